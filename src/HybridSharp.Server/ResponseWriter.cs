using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace HybridSharp.Server;

/// <summary>
/// Relays a request's <see cref="GenerationEvent"/>s to the client as one JSON response or as server-sent events
/// (chat: role chunk, content chunks, finish chunk, optional usage chunk with <c>choices: []</c>, <c>[DONE]</c>;
/// legacy completions: text chunks, finish chunk, optional usage chunk, <c>[DONE]</c>).
/// </summary>
internal sealed class ResponseWriter(HttpContext ctx, string id, long created, string model, bool chat)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private string ObjectName => chat ? "chat.completion" : "text_completion";
    private string ChunkObjectName => chat ? "chat.completion.chunk" : "text_completion";

    public async Task WholeAsync(GenerationRequest request, string? echo)
    {
        var text = new StringBuilder(echo);
        await foreach (var e in request.Events.Reader.ReadAllAsync(ctx.RequestAborted))
        {
            switch (e)
            {
                case TextEvent t:
                    text.Append(t.Text);
                    break;
                case ErrorEvent err:
                    throw new ApiException(500, err.Message, err.Type, null, null);
                case FinishEvent f:
                    await OpenAiEndpoints.WriteJson(ctx, 200, w =>
                    {
                        Header(w, ObjectName);
                        w.WriteStartArray("choices");
                        w.WriteStartObject();
                        w.WriteNumber("index", 0);
                        if (chat)
                        {
                            w.WriteStartObject("message");
                            w.WriteString("role", "assistant");
                            w.WriteString("content", text.ToString());
                            w.WriteNull("refusal");
                            w.WriteEndObject();
                        }
                        else w.WriteString("text", text.ToString());
                        w.WriteNull("logprobs");
                        w.WriteString("finish_reason", f.FinishReason);
                        w.WriteEndObject();
                        w.WriteEndArray();
                        JsonBytes.Usage(w, f);
                    });
                    return;
            }
        }
        ctx.RequestAborted.ThrowIfCancellationRequested();
        throw new ApiException(500, "generation ended without a result", ApiException.Server);
    }

    public async Task StreamAsync(GenerationRequest request, bool includeUsage, string? echo)
    {
        var response = ctx.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        if (chat) await SendAsync(Chunk(role: true, piece: "", finish: null));
        else if (!string.IsNullOrEmpty(echo)) await SendAsync(Chunk(role: false, piece: echo, finish: null));
        await foreach (var e in request.Events.Reader.ReadAllAsync(ctx.RequestAborted))
        {
            switch (e)
            {
                case TextEvent t:
                    await SendAsync(Chunk(role: false, piece: t.Text, finish: null));
                    break;
                case ErrorEvent err:
                    await SendAsync(JsonBytes.Error(err.Message, err.Type, null, null));
                    return;
                case FinishEvent f:
                    await SendAsync(Chunk(role: false, piece: chat ? null : "", finish: f.FinishReason));
                    if (includeUsage)
                        await SendAsync(JsonBytes.Object(w =>
                        {
                            Header(w, ChunkObjectName);
                            w.WriteStartArray("choices");
                            w.WriteEndArray();
                            JsonBytes.Usage(w, f);
                        }));
                    await response.Body.WriteAsync(Done, ctx.RequestAborted);
                    await response.Body.FlushAsync(ctx.RequestAborted);
                    return;
            }
        }
    }

    private void Header(Utf8JsonWriter w, string objectName)
    {
        w.WriteString("id", id);
        w.WriteString("object", objectName);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    /// <summary>One chunk with a single choice: chat delta {role?, content?} or legacy text; usage null.</summary>
    private byte[] Chunk(bool role, string? piece, string? finish) => JsonBytes.Object(w =>
    {
        Header(w, ChunkObjectName);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (chat)
        {
            w.WriteStartObject("delta");
            if (role) w.WriteString("role", "assistant");
            if (piece is not null) w.WriteString("content", piece);
            w.WriteEndObject();
        }
        else w.WriteString("text", piece ?? "");
        w.WriteNull("logprobs");
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteNull("usage");
    });

    private async Task SendAsync(byte[] json)
    {
        var body = ctx.Response.Body;
        await body.WriteAsync(DataPrefix, ctx.RequestAborted);
        await body.WriteAsync(json, ctx.RequestAborted);
        await body.WriteAsync(EventEnd, ctx.RequestAborted);
        await body.FlushAsync(ctx.RequestAborted);
    }
}
