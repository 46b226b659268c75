using System.Text;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Grammar;
using HybridSharp.Jinja;
using Microsoft.AspNetCore.Http;

namespace HybridSharp.Server;

/// <summary>
/// <c>POST /v1/responses</c>, the text subset of OpenAI's Responses API that SDKs such as the Vercel AI SDK send by
/// default: <c>input</c> (a string or message items with text parts), <c>instructions</c>, <c>max_output_tokens</c>,
/// <c>temperature</c>, <c>top_p</c>, <c>text.format</c> (text, json_object, json_schema) and <c>stream</c> (the
/// response.* event sequence). No state is kept: <c>previous_response_id</c>, <c>store: true</c>, tools and
/// reasoning options are refused with a 400 naming them.
/// </summary>
internal sealed partial class OpenAiEndpoints
{
    private static readonly HashSet<string> ResponsesFields =
    [
        "model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "stream", "text", "store", "user", "metadata",
        "service_tier", "prompt_cache_key", "safety_identifier", "truncation", "parallel_tool_calls", "tools", "tool_choice", "include",
    ];

    private async Task Responses(HttpContext ctx)
    {
        long arrival = System.Diagnostics.Stopwatch.GetTimestamp();
        var root = RequestReader.ParseObject(await ReadBodyAsync(ctx));
        RequestReader.OnlyKnownFields(root, ResponsesFields, "/v1/responses");
        var model = RequestReader.String(root, "model") ?? throw ApiException.BadRequest("'model' is required", "model");
        if (model != options.ModelId) throw UnknownModel(model);
        if (RequestReader.Bool(root, "store")) throw ApiException.BadRequest("this server stores nothing; 'store' must be false", "store");
        if (root.TryGetProperty("tools", out var t) && t.ValueKind == JsonValueKind.Array && t.GetArrayLength() > 0)
            throw ApiException.BadRequest("tools are not supported on /v1/responses here; use /v1/chat/completions", "tools", "unsupported_parameter");
        if (root.TryGetProperty("include", out var inc) && inc.ValueKind == JsonValueKind.Array && inc.GetArrayLength() > 0)
            throw ApiException.BadRequest("'include' is not supported", "include", "unsupported_parameter");
        if (RequestReader.String(root, "truncation") is { } truncation && truncation != "disabled")
            throw ApiException.BadRequest("only truncation \"disabled\" is supported", "truncation");

        var messages = RequestReader.ResponseInput(root);
        GrammarNode? grammar = null;
        if (root.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.Object && text.TryGetProperty("format", out var format))
            grammar = RequestReader.ResponseFormat(JsonDocument.Parse("{\"response_format\":" + TextFormatAsResponseFormat(format) + "}").RootElement);
        string prompt;
        try { prompt = template.Render(messages, addGenerationPrompt: true); }
        catch (TemplateException ex) { throw ApiException.BadRequest($"the model's chat template rejected the conversation: {ex.Message}", "input"); }
        var promptIds = tokenizer.Encode(prompt);
        if (promptIds.Length >= engine.Capacity)
            throw new ApiException(400, $"the prompt is {promptIds.Length} tokens; this model's context is {engine.Capacity} tokens", ApiException.InvalidRequest, "input", "context_length_exceeded");
        long? requested = RequestReader.Integer(root, "max_output_tokens");
        if (requested is < 1) throw ApiException.BadRequest("'max_output_tokens' must be ≥ 1", "max_output_tokens");
        var defaults = options.Defaults;
        int maxNew = (int)Math.Min(Math.Min(requested ?? defaults.MaxNewTokens ?? options.MaxTokens, options.MaxTokens), engine.Capacity - promptIds.Length);
        var sampling = Sampling(root); // temperature and top_p; the rest from generation_config.json
        bool stream = RequestReader.Bool(root, "stream");
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        var request = new GenerationRequest
        {
            PromptIds = promptIds, MaxNewTokens = maxNew, Sampling = sampling, StopStrings = _chatStopStrings, StopTokens = _chatStopTokens,
            Cancellation = lifetime.Token, Grammar = grammar,
        };
        Enqueue(ctx, request);
        var writer = new ResponsesWriter(ctx, "resp_" + Guid.NewGuid().ToString("N")[..24], "msg_" + Guid.NewGuid().ToString("N")[..24],
            DateTimeOffset.UtcNow.ToUnixTimeSeconds(), options.ModelId, _thinks ? new ReasoningSplitter(ReasoningSplitter.PromptOpensReasoning(prompt)) : null,
            new RequestTimer(metrics, arrival));
        try
        {
            if (stream) await writer.StreamAsync(request);
            else await writer.WholeAsync(request);
        }
        finally
        {
            await lifetime.CancelAsync();
        }
    }

    /// <summary>Responses' <c>text.format</c> (<c>{"type": "json_schema", "name", "schema", "strict"}</c>) in Chat Completions' shape.</summary>
    private static string TextFormatAsResponseFormat(JsonElement format)
    {
        if (format.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("'text.format' must be an object", "text");
        if (!format.TryGetProperty("type", out var type) || type.GetString() != "json_schema") return format.GetRawText();
        var schema = format.TryGetProperty("schema", out var s) ? s.GetRawText() : throw ApiException.BadRequest("'text.format' json_schema needs 'schema'", "text");
        return "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"output\",\"schema\":" + schema + "}}";
    }
}
