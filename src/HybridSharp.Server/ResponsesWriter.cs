using System.Text;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Inference;
using Microsoft.AspNetCore.Http;

namespace HybridSharp.Server;

/// <summary>
/// Writes a /v1/responses result: one <c>message</c> output item with one <c>output_text</c> part, as a whole
/// <c>response</c> object or as the event sequence (<c>response.created</c>, <c>response.in_progress</c>,
/// <c>response.output_item.added</c>, <c>response.content_part.added</c>, <c>response.output_text.delta</c>…,
/// <c>response.output_text.done</c>, <c>response.content_part.done</c>, <c>response.output_item.done</c>,
/// <c>response.completed</c>; <c>error</c> on failure). A thinking model's reasoning is left out of the text.
/// </summary>
internal sealed class ResponsesWriter(HttpContext ctx, string id, string itemId, long created, string model, ReasoningSplitter? reasoning, RequestTimer timer)
{
    private int _sequence;

    public async Task WholeAsync(GenerationRequest request)
    {
        var text = new StringBuilder();
        await foreach (var e in request.Events.Reader.ReadAllAsync(ctx.RequestAborted))
        {
            timer.Observe(e);
            switch (e)
            {
                case TextEvent t:
                    text.Append(Visible(t.Text));
                    break;
                case ErrorEvent err:
                    throw new ApiException(500, err.Message, err.Type, null, null);
                case FinishEvent f:
                    text.Append(Rest());
                    await OpenAiEndpoints.WriteJson(ctx, 200, w => Response(w, f, text.ToString()));
                    return;
            }
        }
        ctx.RequestAborted.ThrowIfCancellationRequested();
        throw new ApiException(500, "generation ended without a result", ApiException.Server);
    }

    public async Task StreamAsync(GenerationRequest request)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        await SendAsync("response.created", w => ResponseField(w, null, null));
        await SendAsync("response.in_progress", w => ResponseField(w, null, null));
        await SendAsync("response.output_item.added", w => { w.WriteNumber("output_index", 0); w.WritePropertyName("item"); Item(w, null, done: false); });
        await SendAsync("response.content_part.added", w => { Position(w); w.WritePropertyName("part"); Part(w, ""); });
        var text = new StringBuilder();
        await foreach (var e in request.Events.Reader.ReadAllAsync(ctx.RequestAborted))
        {
            timer.Observe(e);
            switch (e)
            {
                case TextEvent t:
                    await Delta(Visible(t.Text));
                    break;
                case ErrorEvent err:
                    await SendAsync("error", w => { w.WriteString("code", err.Type); w.WriteString("message", err.Message); w.WriteNull("param"); });
                    return;
                case FinishEvent f:
                    await Delta(Rest());
                    var all = text.ToString();
                    await SendAsync("response.output_text.done", w => { Position(w); w.WriteString("text", all); });
                    await SendAsync("response.content_part.done", w => { Position(w); w.WritePropertyName("part"); Part(w, all); });
                    await SendAsync("response.output_item.done", w => { w.WriteNumber("output_index", 0); w.WritePropertyName("item"); Item(w, all, done: true); });
                    await SendAsync(f.FinishReason == FinishReason.Length ? "response.incomplete" : "response.completed",
                        w => ResponseField(w, f, all));
                    return;
            }
        }

        async Task Delta(string piece)
        {
            if (piece.Length == 0) return;
            text.Append(piece);
            await SendAsync("response.output_text.delta", w => { Position(w); w.WriteString("delta", piece); });
        }
    }

    private string Visible(string text) => reasoning is null ? text : reasoning.Push(text).Content;

    private string Rest() => reasoning is null ? "" : reasoning.Flush().Content;

    private void Position(Utf8JsonWriter w)
    {
        w.WriteString("item_id", itemId);
        w.WriteNumber("output_index", 0);
        w.WriteNumber("content_index", 0);
    }

    /// <summary>The response object's fields; <paramref name="finish"/> null = still in progress.</summary>
    private void Response(Utf8JsonWriter w, FinishEvent? finish, string? text)
    {
        w.WriteString("id", id);
        w.WriteString("object", "response");
        w.WriteNumber("created_at", created);
        w.WriteString("status", finish is null ? "in_progress" : finish.FinishReason == FinishReason.Length ? "incomplete" : "completed");
        if (finish?.FinishReason == FinishReason.Length)
        {
            w.WriteStartObject("incomplete_details");
            w.WriteString("reason", "max_output_tokens");
            w.WriteEndObject();
        }
        else w.WriteNull("incomplete_details");
        w.WriteNull("error");
        w.WriteString("model", model);
        w.WriteStartArray("output");
        if (text is not null) Item(w, text, done: true);
        w.WriteEndArray();
        if (finish is null) w.WriteNull("usage");
        else
        {
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", finish.PromptTokens);
            w.WriteNumber("output_tokens", finish.CompletionTokens);
            w.WriteNumber("total_tokens", finish.PromptTokens + finish.CompletionTokens);
            w.WriteEndObject();
        }
    }

    /// <summary>The response object as the <c>response</c> field of an event.</summary>
    private void ResponseField(Utf8JsonWriter w, FinishEvent? finish, string? text)
    {
        w.WriteStartObject("response");
        Response(w, finish, text);
        w.WriteEndObject();
    }

    private void Item(Utf8JsonWriter w, string? text, bool done)
    {
        w.WriteStartObject();
        w.WriteString("type", "message");
        w.WriteString("id", itemId);
        w.WriteString("status", done ? "completed" : "in_progress");
        w.WriteString("role", "assistant");
        w.WriteStartArray("content");
        if (text is not null) Part(w, text);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Part(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", "output_text");
        w.WriteString("text", text);
        w.WriteStartArray("annotations");
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private async Task SendAsync(string type, Action<Utf8JsonWriter> body)
    {
        var json = JsonBytes.Object(w =>
        {
            w.WriteString("type", type);
            w.WriteNumber("sequence_number", _sequence++);
            body(w);
        });
        var stream = ctx.Response.Body;
        await stream.WriteAsync(Encoding.UTF8.GetBytes($"event: {type}\ndata: "), ctx.RequestAborted);
        await stream.WriteAsync(json, ctx.RequestAborted);
        await stream.WriteAsync("\n\n"u8.ToArray(), ctx.RequestAborted);
        await stream.FlushAsync(ctx.RequestAborted);
    }
}
