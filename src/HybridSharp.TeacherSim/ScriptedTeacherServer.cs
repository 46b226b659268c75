using HybridSharp.Distill;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HybridSharp.TeacherSim;

/// <summary>Settings of a <see cref="ScriptedTeacherServer"/>.</summary>
public sealed record ScriptedTeacherOptions
{
    /// <summary>Port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }
    /// <summary>Model id listed by <c>GET /v1/models</c> (requests for other models are answered anyway).</summary>
    public string Model { get; init; } = "scripted-teacher";
    /// <summary>Simulated generation time per answer.</summary>
    public TimeSpan Latency { get; init; } = TimeSpan.Zero;
    /// <summary>Characters per SSE content chunk.</summary>
    public int StreamChunkChars { get; init; } = 24;
}

/// <summary>One request the server received.</summary>
public sealed record RecordedRequest(string Body, int Attempt, int Status, string Outcome, double HandlerMilliseconds);

/// <summary>
/// A local OpenAI-compatible chat-completions server on 127.0.0.1 whose answers come from a
/// pluggable <see cref="ITeacherResponder"/>: <c>GET /v1/models</c>, <c>POST /v1/chat/completions</c> (plain JSON or SSE
/// with <c>reasoning_content</c> deltas and a final usage chunk), OpenAI error bodies, Retry-After on 429, hangs,
/// truncated streams and malformed JSON on demand. Used by the tests, <c>hybrid distill teacher-sim</c> and the
/// distill benchmark.
/// </summary>
public sealed class ScriptedTeacherServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ITeacherResponder _responder;
    private readonly ScriptedTeacherOptions _options;
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private long _created = 1_700_000_000;

    private ScriptedTeacherServer(WebApplication app, ITeacherResponder responder, ScriptedTeacherOptions options)
    {
        _app = app;
        _responder = responder;
        _options = options;
    }

    /// <summary>Base URL to give clients, e.g. <c>http://127.0.0.1:41234/v1</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Cancelled when the host shuts down (e.g. on SIGTERM).</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    /// <summary>Every request received, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => _requests.ToArray();

    public static async Task<ScriptedTeacherServer> StartAsync(ITeacherResponder responder, ScriptedTeacherOptions? options = null, CancellationToken ct = default)
    {
        options ??= new ScriptedTeacherOptions();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, options.Port);
            k.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });
        var app = builder.Build();
        var server = new ScriptedTeacherServer(app, responder, options);
        app.MapGet("/v1/models", () => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = options.Model, @object = "model", created = 1_700_000_000L, owned_by = "hybridsharp" } },
        }));
        app.MapPost("/v1/chat/completions", server.HandleAsync);
        await app.StartAsync(ct).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address.TrimEnd('/') + "/v1");
        return server;
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        var clock = Stopwatch.StartNew();
        string body;
        using (var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8)) body = await reader.ReadToEndAsync(ctx.RequestAborted).ConfigureAwait(false);
        int attempt = _attempts.AddOrUpdate(body, 1, (_, n) => n + 1);
        TeacherRequest request;
        try { request = Parse(body, attempt); }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            await WriteErrorAsync(ctx, 400, $"invalid request: {ex.Message}", null, "invalid_request_error").ConfigureAwait(false);
            Record(body, attempt, 400, "bad_request", clock);
            return;
        }
        string outcome = "answer";
        int status = 200;
        try
        {
            var reply = await _responder.RespondAsync(request, ctx.RequestAborted).ConfigureAwait(false);
            while (reply is TeacherReply.Hang hang)
            {
                outcome = "hang";
                await Task.Delay(hang.Duration, ctx.RequestAborted).ConfigureAwait(false);
                reply = hang.Then;
            }
            if (_options.Latency > TimeSpan.Zero && reply is TeacherReply.Answer)
                await Task.Delay(_options.Latency, ctx.RequestAborted).ConfigureAwait(false);
            switch (reply)
            {
                case TeacherReply.Error e:
                    status = e.Status;
                    outcome = $"error_{e.Status}";
                    await WriteErrorAsync(ctx, e.Status, e.Message, e.RetryAfter, e.Status == 429 ? "rate_limit_exceeded" : e.Status >= 500 ? "server_error" : "invalid_request_error").ConfigureAwait(false);
                    break;
                case TeacherReply.Answer a:
                    if (request.Stream) await StreamAnswerAsync(ctx, request, a, body).ConfigureAwait(false);
                    else await WriteJsonAsync(ctx, Completion(request, a)).ConfigureAwait(false);
                    break;
                case TeacherReply.Truncated t:
                    outcome = "truncated";
                    if (request.Stream)
                    {
                        StartSse(ctx);
                        await SseAsync(ctx, Chunk(request, new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "" }, null)).ConfigureAwait(false);
                        await SseAsync(ctx, Chunk(request, new Dictionary<string, object?> { ["content"] = t.PartialContent }, null)).ConfigureAwait(false);
                    }
                    else
                    {
                        var json = JsonSerializer.Serialize(Completion(request, new TeacherReply.Answer(t.PartialContent)));
                        ctx.Response.ContentType = "application/json";
                        await ctx.Response.WriteAsync(json[..(json.Length / 2)], ctx.RequestAborted).ConfigureAwait(false);
                    }
                    break;
                case TeacherReply.MalformedJson:
                    outcome = "malformed";
                    if (request.Stream)
                    {
                        StartSse(ctx);
                        await ctx.Response.WriteAsync("data: {\"id\": \"chatcmpl-x\", \"choices\": [{\"delta\": {\"content\": \"oops\"\n\n", ctx.RequestAborted).ConfigureAwait(false);
                        await ctx.Response.WriteAsync("data: [DONE]\n\n", ctx.RequestAborted).ConfigureAwait(false);
                    }
                    else
                    {
                        ctx.Response.ContentType = "application/json";
                        await ctx.Response.WriteAsync("{\"id\": \"chatcmpl-x\", \"object\": \"chat.completion\", choices: [oops", ctx.RequestAborted).ConfigureAwait(false);
                    }
                    break;
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            outcome = "client_gone";
            status = 499;
        }
        Record(body, attempt, status, outcome, clock);
    }

    private void Record(string body, int attempt, int status, string outcome, Stopwatch clock) =>
        _requests.Enqueue(new RecordedRequest(body, attempt, status, outcome, clock.Elapsed.TotalMilliseconds));

    private static TeacherRequest Parse(string body, int attempt)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        var messages = new List<TeacherMessage>();
        foreach (var m in root.GetProperty("messages").EnumerateArray())
        {
            var content = m.GetProperty("content");
            string text = content.ValueKind == JsonValueKind.String ? content.GetString()!
                : content.ValueKind == JsonValueKind.Array ? string.Concat(content.EnumerateArray().Where(p => p.TryGetProperty("text", out _)).Select(p => p.GetProperty("text").GetString()))
                : throw new FormatException("message content must be a string or an array of text parts");
            messages.Add(new TeacherMessage(m.GetProperty("role").GetString()!, text));
        }
        if (root.TryGetProperty("n", out var n) && n.ValueKind == JsonValueKind.Number && n.GetInt32() != 1)
            throw new FormatException("only n = 1 is supported");
        int? maxTokens = root.TryGetProperty("max_completion_tokens", out var mct) && mct.ValueKind == JsonValueKind.Number ? mct.GetInt32()
            : root.TryGetProperty("max_tokens", out var mt) && mt.ValueKind == JsonValueKind.Number ? mt.GetInt32() : null;
        bool stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        return new TeacherRequest(root.TryGetProperty("model", out var model) ? model.GetString() ?? "" : "", messages, maxTokens, stream, body, attempt);
    }

    private static int Tokens(string text) => text.Length == 0 ? 0 : Math.Max(1, text.Length / 4);

    private Dictionary<string, object?> Usage(TeacherRequest r, TeacherReply.Answer a) => new()
    {
        ["prompt_tokens"] = r.Messages.Sum(m => Tokens(m.Content)),
        ["completion_tokens"] = Tokens(a.Content) + Tokens(a.Reasoning),
        ["total_tokens"] = r.Messages.Sum(m => Tokens(m.Content)) + Tokens(a.Content) + Tokens(a.Reasoning),
        ["completion_tokens_details"] = new Dictionary<string, object?> { ["reasoning_tokens"] = Tokens(a.Reasoning) },
    };

    private static string Id(string body) => "chatcmpl-" + PromptSet.Sha256Hex(body)[..24];

    private Dictionary<string, object?> Completion(TeacherRequest r, TeacherReply.Answer a)
    {
        var message = new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = a.Content, ["refusal"] = null };
        if (a.Reasoning.Length > 0) message["reasoning_content"] = a.Reasoning;
        return new Dictionary<string, object?>
        {
            ["id"] = Id(r.Body), ["object"] = "chat.completion", ["created"] = Interlocked.Increment(ref _created),
            ["model"] = r.Model.Length > 0 ? r.Model : _options.Model,
            ["choices"] = new[] { new Dictionary<string, object?> { ["index"] = 0, ["message"] = message, ["logprobs"] = null, ["finish_reason"] = a.FinishReason } },
            ["usage"] = Usage(r, a),
        };
    }

    private Dictionary<string, object?> Chunk(TeacherRequest r, Dictionary<string, object?>? delta, string? finish, Dictionary<string, object?>? usage = null) => new()
    {
        ["id"] = Id(r.Body), ["object"] = "chat.completion.chunk", ["created"] = 1_700_000_000L,
        ["model"] = r.Model.Length > 0 ? r.Model : _options.Model,
        ["choices"] = delta is null ? Array.Empty<object>() : new[] { new Dictionary<string, object?> { ["index"] = 0, ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = finish } },
        ["usage"] = usage,
    };

    private async Task StreamAnswerAsync(HttpContext ctx, TeacherRequest r, TeacherReply.Answer a, string body)
    {
        StartSse(ctx);
        bool includeUsage = body.Contains("\"include_usage\":true", StringComparison.Ordinal) || body.Contains("\"include_usage\": true", StringComparison.Ordinal);
        await SseAsync(ctx, Chunk(r, new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "" }, null)).ConfigureAwait(false);
        int size = Math.Max(1, _options.StreamChunkChars);
        for (int i = 0; i < a.Reasoning.Length; i += size)
            await SseAsync(ctx, Chunk(r, new Dictionary<string, object?> { ["reasoning_content"] = a.Reasoning.Substring(i, Math.Min(size, a.Reasoning.Length - i)) }, null)).ConfigureAwait(false);
        for (int i = 0; i < a.Content.Length; i += size)
            await SseAsync(ctx, Chunk(r, new Dictionary<string, object?> { ["content"] = a.Content.Substring(i, Math.Min(size, a.Content.Length - i)) }, null)).ConfigureAwait(false);
        await SseAsync(ctx, Chunk(r, new Dictionary<string, object?>(), a.FinishReason)).ConfigureAwait(false);
        if (includeUsage) await SseAsync(ctx, Chunk(r, null, null, Usage(r, a))).ConfigureAwait(false);
        await ctx.Response.WriteAsync("data: [DONE]\n\n", ctx.RequestAborted).ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private static void StartSse(HttpContext ctx)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
    }

    private static async Task SseAsync(HttpContext ctx, object chunk)
    {
        await ctx.Response.WriteAsync("data: " + JsonSerializer.Serialize(chunk) + "\n\n", ctx.RequestAborted).ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task WriteJsonAsync(HttpContext ctx, object value)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(JsonSerializer.Serialize(value), ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task WriteErrorAsync(HttpContext ctx, int status, string message, TimeSpan? retryAfter, string type)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        if (retryAfter is { } ra)
        {
            ctx.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(ra.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            ctx.Response.Headers["retry-after-ms"] = ((long)ra.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        }
        var error = new { error = new { message, type, param = (string?)null, code = status == 429 ? "rate_limit_exceeded" : (string?)null } };
        await ctx.Response.WriteAsync(JsonSerializer.Serialize(error), ctx.RequestAborted).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
