using System.Text;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using Microsoft.AspNetCore.Http;

namespace HybridSharp.Server;

/// <summary>
/// Relays a request's <see cref="GenerationEvent"/>s to the client as one JSON response or as server-sent events
/// (chat: role chunk, content chunks, finish chunk, optional usage chunk with <c>choices: []</c>, <c>[DONE]</c>;
/// legacy completions: text chunks, finish chunk, optional usage chunk, <c>[DONE]</c>). With a
/// <see cref="ReasoningSplitter"/>, a thinking model's reasoning leaves as <c>reasoning_content</c> apart from
/// <c>content</c> (in deltas when streaming).
/// </summary>
internal sealed class ResponseWriter(HttpContext ctx, string id, long created, string model, bool chat, ITokenizer tokenizer,
    ReasoningSplitter? reasoning = null)
{
    private readonly List<TokenLogprob> _logprobs = [];   // not yet written (streaming) or all of them (whole)
    private bool _wantsLogprobs;
    private int _textOffset;
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private string ObjectName => chat ? "chat.completion" : "text_completion";
    private string ChunkObjectName => chat ? "chat.completion.chunk" : "text_completion";

    public async Task WholeAsync(GenerationRequest request, string? echo)
    {
        _wantsLogprobs = request.TopLogprobs is not null;
        var text = new StringBuilder(echo);
        await foreach (var e in request.Events.Reader.ReadAllAsync(ctx.RequestAborted))
        {
            switch (e)
            {
                case TextEvent t:
                    text.Append(t.Text);
                    break;
                case LogprobEvent l:
                    _logprobs.AddRange(l.Tokens);
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
                            var (thought, answer) = SplitWhole(text.ToString());
                            w.WriteStartObject("message");
                            w.WriteString("role", "assistant");
                            w.WriteString("content", answer);
                            if (thought is not null) w.WriteString("reasoning_content", thought);
                            w.WriteNull("refusal");
                            w.WriteEndObject();
                        }
                        else w.WriteString("text", text.ToString());
                        WriteLogprobs(w);
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
        _wantsLogprobs = request.TopLogprobs is not null;
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
                case TextEvent t when reasoning is not null:
                    await SendSplitAsync(reasoning.Push(t.Text));
                    break;
                case TextEvent t:
                    await SendAsync(Chunk(role: false, piece: t.Text, finish: null));
                    break;
                case LogprobEvent l:
                    // Written with the next chunk: text may be held back (a split character, a possible stop string).
                    _logprobs.AddRange(l.Tokens);
                    break;
                case ErrorEvent err:
                    await SendAsync(JsonBytes.Error(err.Message, err.Type, null, null));
                    return;
                case FinishEvent f:
                    if (reasoning is not null) await SendSplitAsync(reasoning.Flush());
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

    private (string? Reasoning, string Content) SplitWhole(string text)
    {
        if (reasoning is null) return (null, text);
        var (r1, c1) = reasoning.Push(text);
        var (r2, c2) = reasoning.Flush();
        return (reasoning.SawReasoning ? r1 + r2 : null, c1 + c2);
    }

    private async Task SendSplitAsync((string Reasoning, string Content) split)
    {
        if (split.Reasoning.Length > 0) await SendAsync(Chunk(role: false, piece: null, finish: null, thought: split.Reasoning));
        if (split.Content.Length > 0) await SendAsync(Chunk(role: false, piece: split.Content, finish: null));
    }

    /// <summary>One chunk with a single choice: chat delta {role?, content?, reasoning_content?} or legacy text; usage null.</summary>
    private byte[] Chunk(bool role, string? piece, string? finish, string? thought = null) => JsonBytes.Object(w =>
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
            if (thought is not null) w.WriteString("reasoning_content", thought);
            w.WriteEndObject();
        }
        else w.WriteString("text", piece ?? "");
        WriteLogprobs(w);
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

    /// <summary>
    /// <c>logprobs</c> of a choice from the entries gathered so far (then cleared): chat's
    /// <c>{"content": [{token, logprob, bytes, top_logprobs}], "refusal": null}</c>, or the legacy completions form
    /// <c>{tokens, token_logprobs, top_logprobs, text_offset}</c>; null when not asked for.
    /// </summary>
    private void WriteLogprobs(Utf8JsonWriter w)
    {
        if (!_wantsLogprobs)
        {
            w.WriteNull("logprobs");
            return;
        }
        w.WriteStartObject("logprobs");
        if (chat)
        {
            w.WriteStartArray("content");
            foreach (var t in _logprobs)
            {
                w.WriteStartObject();
                WriteToken(w, t.Id, t.Logprob ?? 0);
                w.WriteStartArray("top_logprobs");
                foreach (var (alt, lp) in t.Top)
                {
                    w.WriteStartObject();
                    WriteToken(w, alt, lp);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("refusal");
        }
        else
        {
            w.WriteStartArray("tokens");
            foreach (var t in _logprobs) w.WriteStringValue(tokenizer.Decode([t.Id]));
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            foreach (var t in _logprobs)
                if (t.Logprob is { } lp) w.WriteNumberValue(lp); else w.WriteNullValue();
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (var t in _logprobs)
            {
                if (t.Logprob is null) { w.WriteNullValue(); continue; }
                w.WriteStartObject();
                foreach (var (alt, lp) in t.Top) w.WriteNumber(tokenizer.Decode([alt]), lp);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("text_offset");
            foreach (var t in _logprobs)
            {
                w.WriteNumberValue(_textOffset);
                _textOffset += tokenizer.Decode([t.Id]).Length;
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
        _logprobs.Clear();
    }

    private void WriteToken(Utf8JsonWriter w, int id, double logprob)
    {
        w.WriteString("token", tokenizer.Decode([id]));
        w.WriteNumber("logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (var b in tokenizer.TokenBytes(id)) w.WriteNumberValue(b);
        w.WriteEndArray();
    }
}
