using System.Text;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using Microsoft.AspNetCore.Http;

namespace HybridSharp.Server;

/// <summary>
/// Relays a request's <see cref="GenerationEvent"/>s to the client as one JSON response or as server-sent events
/// (chat: role chunk, content chunks, finish chunk per choice, optional usage chunk with <c>choices: []</c>,
/// <c>[DONE]</c>; legacy completions: text chunks, finish chunk per choice, optional usage chunk, <c>[DONE]</c>). For a
/// thinking template (<see cref="ReasoningSplitter"/>), reasoning leaves as <c>reasoning_content</c> apart from
/// <c>content</c>. Log-probabilities ride on the next chunk of their choice.
/// </summary>
internal sealed class ResponseWriter(HttpContext ctx, string id, long created, string model, bool chat, ITokenizer tokenizer,
    Func<ReasoningSplitter>? newSplitter = null, RequestTimer? timer = null, ToolCallFormat? tools = null, bool parallelToolCalls = true)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private ReplyAssembler[] _choices = [];
    private bool _wantsLogprobs;

    private string ObjectName => chat ? "chat.completion" : "text_completion";
    private string ChunkObjectName => chat ? "chat.completion.chunk" : "text_completion";

    private void Start(GenerationRequest request)
    {
        _wantsLogprobs = request.TopLogprobs is not null;
        _choices = [.. Enumerable.Range(0, request.Choices).Select(_ => new ReplyAssembler(chat ? newSplitter?.Invoke() : null, chat ? tools?.NewParser() : null, parallelToolCalls))];
    }

    public async Task WholeAsync(GenerationRequest request, string? echo)
    {
        Start(request);
        foreach (var c in _choices) c.Text.Append(echo);
        await foreach (var e in request.Events.Reader.ReadAllAsync(ctx.RequestAborted))
        {
            timer?.Observe(e);
            switch (e)
            {
                case TextEvent t:
                    _choices[t.Index].Text.Append(t.Text);
                    break;
                case LogprobEvent l:
                    // Prompt log-probabilities (echo) belong to every choice.
                    foreach (var c in l.Prompt ? _choices : [_choices[l.Index]]) c.Logprobs.AddRange(l.Tokens);
                    break;
                case ErrorEvent err:
                    throw new ApiException(500, err.Message, err.Type, null, null);
                case FinishEvent f:
                    _choices[f.Index].Finish = f;
                    break;
            }
        }
        ctx.RequestAborted.ThrowIfCancellationRequested();
        if (_choices.Any(c => c.Finish is null)) throw new ApiException(500, "generation ended without a result", ApiException.Server);
        await OpenAiEndpoints.WriteJson(ctx, 200, w =>
        {
            Header(w, ObjectName);
            w.WriteStartArray("choices");
            for (int i = 0; i < _choices.Length; i++)
            {
                var c = _choices[i];
                w.WriteStartObject();
                w.WriteNumber("index", i);
                string finish = c.Finish!.FinishReason;
                if (chat)
                {
                    var (r1, c1) = c.Push(c.Text.ToString());
                    var (r2, c2, calls) = c.End();
                    var answer = c1 + c2;
                    w.WriteStartObject("message");
                    w.WriteString("role", "assistant");
                    if (calls.Count > 0 && answer.Trim().Length == 0) w.WriteNull("content"); else w.WriteString("content", answer);
                    if (c.Splitter is { SawReasoning: true }) w.WriteString("reasoning_content", r1 + r2);
                    if (calls.Count > 0)
                    {
                        w.WriteStartArray("tool_calls");
                        foreach (var call in calls) WriteCall(w, call, index: null);
                        w.WriteEndArray();
                        finish = "tool_calls";
                    }
                    w.WriteNull("refusal");
                    w.WriteEndObject();
                }
                else w.WriteString("text", c.Text.ToString());
                WriteLogprobs(w, c);
                w.WriteString("finish_reason", finish);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteUsage(w);
        });
    }

    public async Task StreamAsync(GenerationRequest request, bool includeUsage, string? echo)
    {
        Start(request);
        var response = ctx.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        for (int i = 0; i < _choices.Length; i++)
        {
            if (chat) await SendAsync(Chunk(i, role: true, piece: "", finish: null));
            else if (!string.IsNullOrEmpty(echo)) await SendAsync(Chunk(i, role: false, piece: echo, finish: null));
        }
        await foreach (var e in request.Events.Reader.ReadAllAsync(ctx.RequestAborted))
        {
            timer?.Observe(e);
            switch (e)
            {
                case TextEvent t when chat:
                    await SendSplitAsync(t.Index, _choices[t.Index].Push(t.Text));
                    break;
                case TextEvent t:
                    await SendAsync(Chunk(t.Index, role: false, piece: t.Text, finish: null));
                    break;
                case LogprobEvent l:
                    // Written with the next chunk of the choice: text may be held back (a split character, a possible stop string).
                    foreach (var c in l.Prompt ? _choices : [_choices[l.Index]]) c.Logprobs.AddRange(l.Tokens);
                    break;
                case ErrorEvent err:
                    await SendAsync(JsonBytes.Error(err.Message, err.Type, null, null));
                    return;
                case FinishEvent f:
                    var choice = _choices[f.Index];
                    choice.Finish = f;
                    string reason = f.FinishReason;
                    if (chat)
                    {
                        var (thought, rest, calls) = choice.End();
                        await SendSplitAsync(f.Index, (thought, rest));
                        for (int k = 0; k < calls.Count; k++)
                            await SendAsync(Chunk(f.Index, role: false, piece: null, finish: null, call: (calls[k], k)));
                        if (calls.Count > 0) reason = "tool_calls";
                    }
                    await SendAsync(Chunk(f.Index, role: false, piece: chat ? null : "", finish: reason));
                    break;
            }
        }
        ctx.RequestAborted.ThrowIfCancellationRequested();
        if (_choices.Any(c => c.Finish is null)) return; // ended without a result: the stream just stops
        if (includeUsage)
            await SendAsync(JsonBytes.Object(w =>
            {
                Header(w, ChunkObjectName);
                w.WriteStartArray("choices");
                w.WriteEndArray();
                WriteUsage(w);
            }));
        await response.Body.WriteAsync(Done, ctx.RequestAborted);
        await response.Body.FlushAsync(ctx.RequestAborted);
    }

    private void Header(Utf8JsonWriter w, string objectName)
    {
        w.WriteString("id", id);
        w.WriteString("object", objectName);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    /// <summary>Usage of the whole request: the prompt once, the completion tokens of all choices.</summary>
    private void WriteUsage(Utf8JsonWriter w)
    {
        int prompt = _choices[0].Finish!.PromptTokens, completion = _choices.Sum(c => c.Finish!.CompletionTokens);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteEndObject();
    }

    /// <summary>A tool call in OpenAI's form; in a streamed delta it carries its <paramref name="index"/>.</summary>
    private static void WriteCall(Utf8JsonWriter w, ToolCall call, int? index)
    {
        w.WriteStartObject();
        if (index is { } i) w.WriteNumber("index", i);
        w.WriteString("id", call.Id);
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", call.Name);
        w.WriteString("arguments", call.Arguments);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private async Task SendSplitAsync(int index, (string Reasoning, string Content) split)
    {
        if (split.Reasoning.Length > 0) await SendAsync(Chunk(index, role: false, piece: null, finish: null, thought: split.Reasoning));
        if (split.Content.Length > 0) await SendAsync(Chunk(index, role: false, piece: split.Content, finish: null));
    }

    /// <summary>One chunk with a single choice: chat delta {role?, content?, reasoning_content?} or legacy text; usage null.</summary>
    private byte[] Chunk(int index, bool role, string? piece, string? finish, string? thought = null, (ToolCall Call, int Index)? call = null) => JsonBytes.Object(w =>
    {
        Header(w, ChunkObjectName);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        if (chat)
        {
            w.WriteStartObject("delta");
            if (role) w.WriteString("role", "assistant");
            if (piece is not null) w.WriteString("content", piece);
            if (thought is not null) w.WriteString("reasoning_content", thought);
            if (call is { } c)
            {
                w.WriteStartArray("tool_calls");
                WriteCall(w, c.Call, c.Index);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        else w.WriteString("text", piece ?? "");
        WriteLogprobs(w, _choices[index]);
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteNull("usage");
    });

    /// <summary>
    /// <c>logprobs</c> of a choice from the entries gathered so far (then cleared): chat's
    /// <c>{"content": [{token, logprob, bytes, top_logprobs}], "refusal": null}</c>, or the legacy completions form
    /// <c>{tokens, token_logprobs, top_logprobs, text_offset}</c>; null when not asked for.
    /// </summary>
    private void WriteLogprobs(Utf8JsonWriter w, ReplyAssembler c)
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
            foreach (var t in c.Logprobs)
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
            foreach (var t in c.Logprobs) w.WriteStringValue(tokenizer.Decode([t.Id]));
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            foreach (var t in c.Logprobs)
                if (t.Logprob is { } lp) w.WriteNumberValue(lp); else w.WriteNullValue();
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (var t in c.Logprobs)
            {
                if (t.Logprob is null) { w.WriteNullValue(); continue; }
                w.WriteStartObject();
                foreach (var (alt, lp) in t.Top) w.WriteNumber(tokenizer.Decode([alt]), lp);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("text_offset");
            foreach (var t in c.Logprobs)
            {
                w.WriteNumberValue(c.TextOffset);
                c.TextOffset += tokenizer.Decode([t.Id]).Length;
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
        c.Logprobs.Clear();
    }

    private void WriteToken(Utf8JsonWriter w, int id, double logprob)
    {
        w.WriteString("token", tokenizer.Decode([id]));
        w.WriteNumber("logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (var b in tokenizer.TokenBytes(id)) w.WriteNumberValue(b);
        w.WriteEndArray();
    }

    private async Task SendAsync(byte[] json)
    {
        var body = ctx.Response.Body;
        await body.WriteAsync(DataPrefix, ctx.RequestAborted);
        await body.WriteAsync(json, ctx.RequestAborted);
        await body.WriteAsync(EventEnd, ctx.RequestAborted);
        await body.FlushAsync(ctx.RequestAborted);
    }
}
