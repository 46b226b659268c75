using System.Buffers;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Jinja;
using System.Text.Json.Nodes;
using HybridSharp.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace HybridSharp.Server;

/// <summary>
/// The OpenAI-compatible HTTP surface: <c>GET /v1/models</c>, <c>POST /v1/chat/completions</c>,
/// <c>POST /v1/completions</c> (both streaming over SSE or not) and <c>GET /health</c>. Handlers parse and validate,
/// queue a <see cref="GenerationRequest"/> and relay its events; they never touch the model.
/// </summary>
internal sealed partial class OpenAiEndpoints(GenerationEngine engine, ITokenizer tokenizer, ChatTemplate template, ServerOptions options, ServerMetrics metrics)
{
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private readonly IReadOnlySet<int> _chatStopTokens = StopTokensFor(tokenizer, template.StopStrings, options.Defaults.EosTokenIds);
    private readonly IReadOnlySet<int> _textStopTokens = StopTokensFor(tokenizer, [], options.Defaults.EosTokenIds);

    // Fields that take effect, plus OpenAI's bookkeeping fields that have none on a local server (user, metadata, …).
    private static readonly string[] CommonFields =
    [
        "model", "max_tokens", "temperature", "top_p", "stop", "seed", "frequency_penalty", "presence_penalty", "stream",
        "stream_options", "n", "logprobs", "top_k", "min_p", "repetition_penalty", "ignore_eos", "user", "metadata", "store", "service_tier",
        "prompt_cache_key", "safety_identifier",
    ];
    private static readonly HashSet<string> ChatFields =
        [.. CommonFields, "messages", "max_completion_tokens", "top_logprobs", "tools", "tool_choice", "parallel_tool_calls", "response_format", "chat_template_kwargs"];
    private static readonly HashSet<string> CompletionFields = [.. CommonFields, "prompt", "echo", "best_of"];
    // Template stop strings that are special tokens never reach the text; watching for them would only hold text back.
    private readonly bool _thinks = ReasoningSplitter.AppliesTo(template);
    private readonly ToolCallFormat _toolFormat = ToolCallFormat.For(template);
    private readonly string[] _chatStopStrings = template.StopStrings.Where(s => !tokenizer.SpecialTokens.ContainsKey(s)).ToArray();

    public void Map(WebApplication app)
    {
        app.MapGet("/health", Health);
        app.MapGet("/", async ctx =>
        {
            ctx.Response.ContentType = "text/html; charset=utf-8";
            ctx.Response.Headers.CacheControl = "no-cache";
            await ctx.Response.Body.WriteAsync(ChatPage.Value, ctx.RequestAborted);
        });
        app.MapGet("/metrics", async ctx =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.WriteAsync(ctx.Response.Body, ctx.RequestAborted);
        });
        app.MapGet("/v1/models", ctx => WriteJson(ctx, 200, w =>
        {
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            w.WriteStartObject();
            WriteModel(w);
            w.WriteEndObject();
            w.WriteEndArray();
        }));
        app.MapGet("/v1/models/{id}", ctx =>
        {
            var id = (string?)ctx.Request.RouteValues["id"];
            if (id != options.ModelId) throw UnknownModel(id);
            return WriteJson(ctx, 200, WriteModel);
        });
        app.MapPost("/v1/chat/completions", ctx => Complete(ctx, chat: true));
        app.MapPost("/v1/completions", ctx => Complete(ctx, chat: false));
        app.MapPost("/v1/embeddings", Embeddings);
        app.MapPost("/v1/responses", Responses);
        app.MapFallback(ctx =>
        {
            var path = ctx.Request.Path.Value ?? "";
            string? allow = path switch
            {
                "/v1/chat/completions" or "/v1/completions" or "/v1/embeddings" or "/v1/responses" => "POST",
                "/" or "/health" or "/metrics" or "/v1/models" => "GET",
                _ when path.StartsWith("/v1/models/", StringComparison.Ordinal) => "GET",
                _ => null,
            };
            if (allow is null) throw new ApiException(404, $"no route for {ctx.Request.Method} {path}", ApiException.InvalidRequest, null, "not_found");
            ctx.Response.Headers.Allow = allow;
            throw new ApiException(405, $"{path} takes {allow}, not {ctx.Request.Method}", ApiException.InvalidRequest, null, "method_not_allowed");
        });
    }

    private Task Health(HttpContext ctx) => WriteJson(ctx, engine.Accepting ? 200 : 503, w =>
    {
        w.WriteString("status", engine.Accepting ? "ok" : "stopping");
        w.WriteString("model", options.ModelId);
        w.WriteNumber("active", engine.Active);
        w.WriteNumber("waiting", engine.Waiting);
        w.WriteNumber("max_batch", options.MaxBatch);
        w.WriteNumber("context", engine.Capacity);
        w.WriteNumber("completed", engine.Completed);
        w.WriteNumber("cancelled", engine.Cancelled);
        w.WriteNumber("failed", engine.Failed);
        w.WriteNumber("decode_steps", engine.Steps);
        w.WriteNumber("generated_tokens", engine.GeneratedTokens);
    });

    private void WriteModel(Utf8JsonWriter w)
    {
        w.WriteString("id", options.ModelId);
        w.WriteString("object", "model");
        w.WriteNumber("created", _created);
        w.WriteString("owned_by", "hybridsharp");
    }

    private ApiException UnknownModel(string? id) =>
        new(404, $"the model '{id}' does not exist; this server serves '{options.ModelId}'", ApiException.InvalidRequest, "model", "model_not_found");

    /// <summary>The route a request path counts under in /metrics (a fixed set, so labels stay few).</summary>
    public static string RouteLabel(PathString path) => path.Value switch
    {
        "/" or "/v1/chat/completions" or "/v1/completions" or "/v1/embeddings" or "/v1/responses" or "/v1/models" or "/health" or "/metrics" => path.Value,
        var p when p?.StartsWith("/v1/models/", StringComparison.Ordinal) == true => "/v1/models/{id}",
        _ => "other",
    };

    private async Task Complete(HttpContext ctx, bool chat)
    {
        long arrival = System.Diagnostics.Stopwatch.GetTimestamp();
        var root = RequestReader.ParseObject(await ReadBodyAsync(ctx));
        RequestReader.OnlyKnownFields(root, chat ? ChatFields : CompletionFields, chat ? "/v1/chat/completions" : "/v1/completions");
        var model = RequestReader.String(root, "model") ?? throw ApiException.BadRequest("'model' is required", "model");
        if (model != options.ModelId) throw UnknownModel(model);
        int choices = (int)(RequestReader.Integer(root, "n") ?? 1);
        if (choices < 1 || choices > options.MaxBatch)
            throw ApiException.BadRequest($"'n' must be between 1 and {options.MaxBatch} (the server's batch limit), got {choices}", "n");
        if (RequestReader.Integer(root, "best_of") is { } bestOf && bestOf != 1) throw ApiException.BadRequest($"only best_of = 1 is supported, got {bestOf}", "best_of");
        int? topLogprobs = Logprobs(root, chat);
        if (RequestReader.Bool(root, "store")) throw ApiException.BadRequest("this server stores nothing; 'store' must be false", "store");
        var grammar = chat ? RequestReader.ResponseFormat(root) : null;
        var (tools, toolChoice) = chat ? RequestReader.ToolChoice(root) : (null, null);
        if (toolChoice is not null)
        {
            if (grammar is not null)
                throw ApiException.BadRequest("a forced tool call and response_format cannot both shape the reply; drop one", "tool_choice");
            try { grammar = _toolFormat.Grammar(tools!, toolChoice == RequestReader.AnyTool ? null : toolChoice); }
            catch (ArgumentException ex) { throw ApiException.BadRequest(ex.Message, "tools"); }
        }
        bool stream = RequestReader.Bool(root, "stream");
        bool includeUsage = stream && root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && RequestReader.Bool(so, "include_usage");
        bool echo = !chat && RequestReader.Bool(root, "echo");

        string prompt = chat ? RenderChat(root, tools) : RequestReader.Prompt(root);
        // A chat prompt is encoded as rendered (its template writes BOS where it wants one); a text prompt gets the
        // tokenizer's own special tokens (BOS for most, none for Qwen).
        var promptIds = tokenizer.Encode(prompt, addSpecialTokens: !chat);
        if (promptIds.Length >= engine.Capacity)
            throw new ApiException(400, $"the prompt is {promptIds.Length} tokens; this model's context is {engine.Capacity} tokens (prompt + completion)",
                ApiException.InvalidRequest, chat ? "messages" : "prompt", "context_length_exceeded");

        string maxParam = chat && root.TryGetProperty("max_completion_tokens", out var mct) && mct.ValueKind != JsonValueKind.Null ? "max_completion_tokens" : "max_tokens";
        long? requested = RequestReader.Integer(root, maxParam);
        if (requested is < 1) throw ApiException.BadRequest($"'{maxParam}' must be ≥ 1", maxParam);
        if (requested > engine.Capacity)
            throw new ApiException(400, $"'{maxParam}' is {requested}, but this model's context is {engine.Capacity} tokens (prompt + completion)",
                ApiException.InvalidRequest, maxParam, "context_length_exceeded");
        var defaults = options.Defaults;
        int fallbackMax = defaults.MaxNewTokens ?? (chat ? options.MaxTokens : 16);
        int maxNew = (int)Math.Min(Math.Min(requested ?? fallbackMax, options.MaxTokens), engine.Capacity - promptIds.Length);

        var sampling = Sampling(root);
        var userStops = RequestReader.Stop(root);
        bool ignoreEos = RequestReader.Bool(root, "ignore_eos");
        // Cancelled when the client disconnects and whenever this handler exits, so the model thread never keeps
        // generating for a request nobody reads.
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);

        var request = new GenerationRequest
        {
            PromptIds = promptIds,
            MaxNewTokens = maxNew,
            Sampling = sampling,
            // vLLM's ignore_eos: generate the whole budget (benchmarks); the user's own stop strings still apply.
            StopStrings = chat && !ignoreEos ? [.. _chatStopStrings, .. userStops] : userStops,
            StopTokens = ignoreEos ? new HashSet<int>() : chat ? _chatStopTokens : _textStopTokens,
            Cancellation = lifetime.Token,
            TopLogprobs = topLogprobs,
            Choices = choices,
            Grammar = grammar,
            PromptLogprobs = echo && topLogprobs is not null,
        };
        Enqueue(ctx, request);

        var id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N")[..24];
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        bool opensReasoning = ReasoningSplitter.PromptOpensReasoning(prompt);
        var response = new ResponseWriter(ctx, id, created, options.ModelId, chat, tokenizer,
            chat && _thinks ? () => new ReasoningSplitter(opensReasoning) : null, new RequestTimer(metrics, arrival), tools is null ? null : _toolFormat,
            RequestReader.Bool(root, "parallel_tool_calls", fallback: true));
        try
        {
            if (stream) await response.StreamAsync(request, includeUsage, echo ? prompt : null);
            else await response.WholeAsync(request, echo ? prompt : null);
        }
        finally
        {
            await lifetime.CancelAsync();
        }
    }

    /// <summary>Sampling: request fields first, then the model's generation_config.json, then OpenAI's defaults.</summary>
    private SamplingOptions Sampling(JsonElement root)
    {
        var defaults = options.Defaults;
        int topK = (int)(RequestReader.Number(root, "top_k", -1, int.MaxValue) ?? defaults.TopK ?? 0);
        return new SamplingOptions
        {
            Temperature = RequestReader.Number(root, "temperature", 0, 2) ?? defaults.DefaultTemperature ?? 1.0,
            TopP = (RequestReader.Number(root, "top_p", 0, 1) ?? defaults.TopP) is { } p ? Math.Max(p, 1e-6) : 1.0,
            TopK = Math.Max(topK, 0), // vLLM's -1 = off
            MinP = RequestReader.Number(root, "min_p", 0, 1) ?? defaults.MinP ?? 0,
            RepetitionPenalty = RequestReader.Number(root, "repetition_penalty", 0.01, 10) ?? defaults.RepetitionPenalty ?? 1.0,
            FrequencyPenalty = RequestReader.Number(root, "frequency_penalty", -2, 2) ?? 0,
            PresencePenalty = RequestReader.Number(root, "presence_penalty", -2, 2) ?? 0,
            Seed = RequestReader.Integer(root, "seed") ?? Random.Shared.NextInt64(),
        };
    }

    /// <summary>Queues a request: 503 while shutting down, 429 with Retry-After when the queue is full.</summary>
    private void Enqueue(HttpContext ctx, GenerationRequest request)
    {
        if (engine.TryEnqueue(request)) return;
        if (!engine.Accepting) throw new ApiException(503, "the server is shutting down", ApiException.Server, null, "unavailable");
        ctx.Response.Headers.RetryAfter = "1";
        throw new ApiException(429, $"the server is busy ({options.MaxBatch} running, {engine.Waiting} waiting); retry shortly",
            ApiException.RateLimit, null, "rate_limit_exceeded");
    }

    /// <summary>
    /// How many alternatives per token to report, or null for no log-probabilities: chat takes <c>logprobs</c> (bool)
    /// and <c>top_logprobs</c> (0–20); completions take <c>logprobs</c> as that number.
    /// </summary>
    private static int? Logprobs(JsonElement root, bool chat)
    {
        if (!chat)
            return RequestReader.Integer(root, "logprobs") is { } n
                ? n is >= 0 and <= 20 ? (int)n : throw ApiException.BadRequest($"'logprobs' must be between 0 and 20, got {n}", "logprobs")
                : null;
        bool wanted = RequestReader.Bool(root, "logprobs");
        var top = RequestReader.Integer(root, "top_logprobs");
        if (top is < 0 or > 20) throw ApiException.BadRequest($"'top_logprobs' must be between 0 and 20, got {top}", "top_logprobs");
        if (top is not null && !wanted) throw ApiException.BadRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs");
        return wanted ? (int)(top ?? 0) : null;
    }

    private string RenderChat(JsonElement root, JsonArray? tools)
    {
        var messages = RequestReader.Messages(root);
        var kwargs = RequestReader.TemplateKwargs(root);
        try
        {
            return template.Render(messages, addGenerationPrompt: true, tools, kwargs);
        }
        catch (TemplateException ex)
        {
            // The model's template refused this conversation (e.g. roles that do not alternate): the client's to fix.
            throw ApiException.BadRequest($"the model's chat template rejected the conversation: {ex.Message}", "messages");
        }
    }

    /// <summary>The chat page served at <c>/</c> (one static file, no build step), read once from the assembly.</summary>
    private static readonly Lazy<byte[]> ChatPage = new(() =>
    {
        using var stream = typeof(OpenAiEndpoints).Assembly.GetManifestResourceStream("HybridSharp.Server.chat.html")
            ?? throw new InvalidOperationException("the chat page is missing from the assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    private static readonly HashSet<string> EmbeddingFields = ["model", "input", "encoding_format", "dimensions", "user"];

    /// <summary>
    /// <c>POST /v1/embeddings</c>: per input (a string, a list of strings, a list of token ids or a list of such lists),
    /// the mean of the model's final normalised hidden states over the input's tokens (BOS included, as the tokenizer
    /// frames a document), scaled to unit length. <c>encoding_format</c> float or base64 (little-endian float32).
    /// </summary>
    private async Task Embeddings(HttpContext ctx)
    {
        var root = RequestReader.ParseObject(await ReadBodyAsync(ctx));
        RequestReader.OnlyKnownFields(root, EmbeddingFields, "/v1/embeddings");
        var model = RequestReader.String(root, "model") ?? throw ApiException.BadRequest("'model' is required", "model");
        if (model != options.ModelId) throw UnknownModel(model);
        var inputs = RequestReader.EmbeddingInputs(root, tokenizer);
        if (inputs.Count > 256) throw ApiException.BadRequest($"at most 256 inputs per request, got {inputs.Count}", "input");
        foreach (var ids in inputs)
        {
            if (ids.Length > engine.Capacity) throw ApiException.BadRequest($"an input is {ids.Length} tokens; the context is {engine.Capacity}", "input");
            if (ids.Any(id => id < 0 || id >= tokenizer.VocabSize)) throw ApiException.BadRequest("a token id is outside the vocabulary", "input");
        }
        var format = RequestReader.String(root, "encoding_format") ?? "float";
        if (format is not ("float" or "base64")) throw ApiException.BadRequest($"'encoding_format' must be float or base64, got '{format}'", "encoding_format");
        if (RequestReader.Integer(root, "dimensions") is { } dims && dims != engine.HiddenSize)
            throw ApiException.BadRequest($"this model's embeddings have {engine.HiddenSize} dimensions; 'dimensions' cannot change that", "dimensions");
        List<float[]> vectors;
        try
        {
            vectors = await engine.RunOnModelThreadAsync(m => inputs.Select(ids => Embedding(m, ids)).ToList());
        }
        catch (TaskCanceledException)
        {
            throw new ApiException(503, "the server is shutting down", ApiException.Server, null, "unavailable");
        }
        int tokens = inputs.Sum(i => i.Length);
        await WriteJson(ctx, 200, w =>
        {
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (int i = 0; i < vectors.Count; i++)
            {
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WriteNumber("index", i);
                if (format == "base64")
                {
                    var bytes = new byte[vectors[i].Length * 4];
                    for (int j = 0; j < vectors[i].Length; j++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(j * 4), vectors[i][j]);
                    w.WriteString("embedding", Convert.ToBase64String(bytes));
                }
                else
                {
                    w.WriteStartArray("embedding");
                    foreach (var v in vectors[i]) w.WriteNumberValue(v);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("model", options.ModelId);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", tokens);
            w.WriteNumber("total_tokens", tokens);
            w.WriteEndObject();
        });
    }

    /// <summary>Mean of the final normalised hidden states, unit length (runs on the model thread).</summary>
    internal static float[] Embedding(HybridSharp.Models.CausalLM model, int[] ids)
    {
        var x = TorchSharp.torch.tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length], device: model.LmHeadWeight.device);
        var mean = model.ForwardHidden(x).to_type(TorchSharp.torch.ScalarType.Float32).mean([1])[0];
        return TorchSharp.torch.nn.functional.normalize(mean.unsqueeze(0), p: 2, dim: 1)[0].cpu().data<float>().ToArray();
    }

    private async Task<byte[]> ReadBodyAsync(HttpContext ctx)
    {
        long limit = options.MaxRequestBodyBytes;
        if (ctx.Request.ContentLength > limit) throw TooLarge(limit);
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(8192);
                int read = await ctx.Request.Body.ReadAsync(memory, ctx.RequestAborted);
                if (read == 0) break;
                buffer.Advance(read);
                if (buffer.WrittenCount > limit) throw TooLarge(limit);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(limit);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static ApiException TooLarge(long limit) =>
        new(413, $"the request body exceeds the limit of {limit} bytes", ApiException.InvalidRequest, null, "request_too_large");

    /// <summary>Stop tokens: EOS, the generation config's eos_token_id list, and any stop string that is a single special token.</summary>
    internal static IReadOnlySet<int> StopTokensFor(ITokenizer tokenizer, IEnumerable<string> stopStrings, IEnumerable<int> eosIds) =>
        StopTokens.For(tokenizer, stopStrings, eosIds.Append(tokenizer.EosId));

    /// <summary>Writes a JSON object built by <paramref name="body"/> with the given status.</summary>
    public static async Task WriteJson(HttpContext ctx, int status, Action<Utf8JsonWriter> body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(JsonBytes.Object(body), ctx.RequestAborted);
    }
}
