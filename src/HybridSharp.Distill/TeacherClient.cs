using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.RateLimiting;
using Polly;
using Polly.Retry;

namespace HybridSharp.Distill;

/// <summary>
/// Client for OpenAI-compatible <c>POST {base}/chat/completions</c>, plain or SSE streaming.
/// </summary>
/// <remarks>
/// Raw <see cref="HttpClient"/> + System.Text.Json rather than the official OpenAI SDK: the SDK's ChatCompletion
/// surfaces neither <c>message.reasoning_content</c> (DeepSeek, older vLLM) nor <c>message.reasoning</c> (newer vLLM),
/// nor their streaming deltas, and those long traces are the point of the one-call mode. We
/// speak the same wire format the SDK does: JSON body with <c>model</c>, <c>messages</c>, <c>max_tokens</c>,
/// <c>temperature</c>, <c>top_p</c>, <c>seed</c>, <c>stream</c>, <c>stream_options.include_usage</c>; responses with
/// <c>choices[0].message</c> / <c>choices[0].delta</c>, <c>finish_reason</c> and <c>usage</c>; SSE <c>data:</c> lines
/// ending with <c>[DONE]</c>. Retries (Polly.Core) cover 408/429/5xx, timeouts, connection errors, malformed JSON and
/// truncated streams with jittered exponential backoff that honours <c>retry-after-ms</c> / <c>Retry-After</c>;
/// other 4xx fail fast. Requests-per-minute and tokens-per-minute are token buckets (System.Threading.RateLimiting).
/// </remarks>
public sealed class TeacherClient : IDisposable
{
    private readonly TeacherClientOptions _options;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ResiliencePipeline _retry;
    private readonly TokenBucketRateLimiter? _rpm;
    private readonly TokenBucketRateLimiter? _tpm;
    private int _nextBase = -1;
    private long _requests, _retries;
    private readonly Dictionary<string, long> _transientCounts = new(StringComparer.Ordinal);

    public TeacherClient(TeacherClientOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.BaseUrls.Count == 0) throw new ArgumentException("at least one teacher base URL is needed");
        if (string.IsNullOrWhiteSpace(options.Model)) throw new ArgumentException("a teacher model name is needed (`TeacherClientOptions.Model`)");
        _options = options;
        _ownsHttp = true;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1024,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.All,
        }) { Timeout = Timeout.InfiniteTimeSpan };
        _retry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<TeacherTransientException>(),
            MaxRetryAttempts = Math.Max(0, options.MaxRetries) == 0 ? 1 : options.MaxRetries,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.RetryBaseDelay,
            MaxDelay = options.MaxRetryDelay,
            DelayGenerator = args => new ValueTask<TimeSpan?>(
                args.Outcome.Exception is TeacherTransientException { RetryAfter: { } after } ? Min(after, options.MaxRetryDelay) : null),
            OnRetry = args =>
            {
                Interlocked.Increment(ref _retries);
                return default;
            },
        }).Build();
        if (options.MaxRetries <= 0) _retry = ResiliencePipeline.Empty;
        _rpm = options.RequestsPerMinute is { } rpm ? Bucket(rpm) : null;
        _tpm = options.TokensPerMinute is { } tpm ? Bucket(tpm) : null;
        if (!string.IsNullOrEmpty(options.ApiKey))
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>A smooth bucket: refills every 100 ms (or every 60 s / limit when slower), holding about one second's worth.</summary>
    private static TokenBucketRateLimiter Bucket(int perMinute)
    {
        if (perMinute <= 0) throw new ArgumentException("rate limits must be positive");
        int perPeriod; TimeSpan period;
        if (perMinute >= 600) { period = TimeSpan.FromMilliseconds(100); perPeriod = (int)Math.Ceiling(perMinute / 600.0); }
        else { period = TimeSpan.FromMilliseconds(60_000.0 / perMinute); perPeriod = 1; }
        int limit = Math.Max(perPeriod, perMinute / 60);
        var bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
        Limits.Add(bucket, limit);
        return bucket;
    }

    public string Model => _options.Model;

    /// <summary>HTTP attempts sent so far (including retries).</summary>
    public long Requests => Interlocked.Read(ref _requests);
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Transient failures seen so far, by reason code (each retried or, after the last retry, given up).</summary>
    public IReadOnlyDictionary<string, long> TransientFailures
    {
        get { lock (_transientCounts) return new Dictionary<string, long>(_transientCounts); }
    }

    /// <summary>The JSON body for a request (also what the cache stores as the request).</summary>
    public string RequestBody(IReadOnlyList<TeacherMessage> messages, GenerationParameters p, bool stream)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("model", _options.Model);
            w.WriteStartArray("messages");
            foreach (var m in messages)
            {
                w.WriteStartObject();
                w.WriteString("role", m.Role);
                w.WriteString("content", m.Content);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("max_tokens", p.MaxTokens);
            if (p.Temperature is { } t) w.WriteNumber("temperature", t);
            if (p.TopP is { } tp) w.WriteNumber("top_p", tp);
            if (p.Seed is { } s) w.WriteNumber("seed", s);
            w.WriteBoolean("stream", stream);
            if (stream)
            {
                w.WriteStartObject("stream_options");
                w.WriteBoolean("include_usage", true);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>Sends one chat completion with retries; throws <see cref="TeacherTransientException"/> after the last retry, <see cref="TeacherRequestException"/> for other 4xx.</summary>
    public async Task<TeacherResponse> CompleteAsync(IReadOnlyList<TeacherMessage> messages, GenerationParameters parameters, CancellationToken ct = default)
    {
        var body = RequestBody(messages, parameters, _options.Stream);
        int promptEstimate = messages.Sum(m => m.Content.Length) / 4 + 8;
        return await _retry.ExecuteAsync(async token => await AttemptAsync(body, promptEstimate, token).ConfigureAwait(false), ct).ConfigureAwait(false);
    }

    private async ValueTask<TeacherResponse> AttemptAsync(string body, int promptEstimate, CancellationToken ct)
    {
        if (_rpm is not null) await AcquireAsync(_rpm, 1, ct).ConfigureAwait(false);
        if (_tpm is not null) await AcquireAsync(_tpm, promptEstimate, ct).ConfigureAwait(false);
        int index = (int)((uint)Interlocked.Increment(ref _nextBase) % (uint)_options.BaseUrls.Count);
        var url = new Uri(_options.BaseUrls[index].ToString().TrimEnd('/') + "/chat/completions");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.RequestTimeout);
        Interlocked.Increment(ref _requests);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            if (_options.Stream) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) await ThrowForStatusAsync(response, timeout.Token).ConfigureAwait(false);
            var result = _options.Stream
                ? await ReadStreamAsync(response, timeout.Token).ConfigureAwait(false)
                : ParseCompletion(await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false));
            if (_tpm is not null && result.Usage is { CompletionTokens: > 0 } u) await AcquireAsync(_tpm, u.CompletionTokens, ct).ConfigureAwait(false);
            return result;
        }
        catch (TeacherTransientException ex) { Count(ex.Code); throw; }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            Count("timeout");
            throw new TeacherTransientException("timeout", $"no complete answer within {_options.RequestTimeout.TotalSeconds:0.###} s", null, ex);
        }
        catch (HttpRequestException ex)
        {
            Count("connection");
            throw new TeacherTransientException("connection", $"connection to {url.Authority} failed: {ex.Message}", null, ex);
        }
        catch (IOException ex) when (!ct.IsCancellationRequested)
        {
            Count("connection");
            throw new TeacherTransientException("connection", $"reading from {url.Authority} failed: {ex.Message}", null, ex);
        }
    }

    private void Count(string code)
    {
        lock (_transientCounts) _transientCounts[code] = _transientCounts.GetValueOrDefault(code) + 1;
    }

    private static async Task AcquireAsync(TokenBucketRateLimiter limiter, int permits, CancellationToken ct)
    {
        // A bucket never grants more than its limit at once: clamp large token counts (they still drain the bucket).
        int limit = LimitOf(limiter);
        using var lease = await limiter.AcquireAsync(Math.Clamp(permits, 1, limit), ct).ConfigureAwait(false);
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TokenBucketRateLimiter, object> Limits = new();
    private static int LimitOf(TokenBucketRateLimiter limiter) => Limits.TryGetValue(limiter, out var v) ? (int)v : 1;

    private static async Task ThrowForStatusAsync(HttpResponseMessage response, CancellationToken ct)
    {
        int status = (int)response.StatusCode;
        string text = "";
        try { text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false); } catch (Exception ex) when (ex is IOException or HttpRequestException) { }
        var message = ErrorMessage(text) ?? response.ReasonPhrase ?? "";
        if (status == 429 || status == 408 || status >= 500)
            throw new TeacherTransientException(status == 429 ? "http_429" : status == 408 ? "timeout" : "http_5xx",
                $"HTTP {status}: {message}", RetryAfter(response));
        throw new TeacherRequestException(status, $"HTTP {status}: {message}");
    }

    private static string? ErrorMessage(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e))
                return e.ValueKind == JsonValueKind.Object && e.TryGetProperty("message", out var m) ? m.ToString() : e.ToString();
        }
        catch (JsonException) { }
        return text.Length > 200 ? text[..200] : text.Length > 0 ? text : null;
    }

    /// <summary><c>retry-after-ms</c> (OpenAI) first, then <c>Retry-After</c> in seconds or as an HTTP date.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var millis) && millis >= 0)
            return TimeSpan.FromMilliseconds(millis);
        var ra = response.Headers.RetryAfter;
        if (ra?.Delta is { } delta) return delta;
        if (ra?.Date is { } date) { var d = date - DateTimeOffset.UtcNow; return d > TimeSpan.Zero ? d : TimeSpan.Zero; }
        return null;
    }

    /// <summary>Parses a non-streaming chat completion body.</summary>
    public static TeacherResponse ParseCompletion(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new TeacherTransientException("malformed_json", "response is not a JSON object");
            if (root.TryGetProperty("error", out var err) && err.ValueKind != JsonValueKind.Null)
                throw new TeacherTransientException("http_5xx", $"error in a 200 response: {ErrorMessage(json)}");
            if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
                throw new TeacherTransientException("malformed_json", "response has no choices");
            var choice = choices[0];
            var message = choice.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.Object ? m
                : throw new TeacherTransientException("malformed_json", "choice has no message");
            return new TeacherResponse(
                Str(message, "content") ?? "",
                Str(message, "reasoning_content") ?? Str(message, "reasoning") ?? "",
                Str(choice, "finish_reason"),
                ParseUsage(root),
                Str(root, "model"));
        }
        catch (JsonException ex)
        {
            throw new TeacherTransientException("malformed_json", $"response is not valid JSON ({ex.Message.Split(" Path:")[0].Trim()})", null, ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new TeacherTransientException("malformed_json", $"response has an unexpected shape ({ex.Message})", null, ex);
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static TeacherUsage? ParseUsage(JsonElement root)
    {
        if (!root.TryGetProperty("usage", out var u) || u.ValueKind != JsonValueKind.Object) return null;
        int Int(JsonElement e, string n) => e.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;
        int? reasoning = null;
        if (u.TryGetProperty("completion_tokens_details", out var d) && d.ValueKind == JsonValueKind.Object
            && d.TryGetProperty("reasoning_tokens", out var r) && r.ValueKind == JsonValueKind.Number)
            reasoning = r.GetInt32();
        return new TeacherUsage(Int(u, "prompt_tokens"), Int(u, "completion_tokens"), reasoning);
    }

    private static async Task<TeacherResponse> ReadStreamAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var content = new StringBuilder();
        var reasoning = new StringBuilder();
        string? finish = null, model = null;
        TeacherUsage? usage = null;
        bool done = false;
        await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal)) continue; // blank separators, comments, event: lines
            var payload = line.AsSpan(5).Trim().ToString();
            if (payload == "[DONE]") { done = true; break; }
            try
            {
                using var doc = JsonDocument.Parse(payload);
                var root = doc.RootElement;
                if (root.TryGetProperty("error", out var err) && err.ValueKind != JsonValueKind.Null)
                    throw new TeacherTransientException("stream_error", $"error in the stream: {ErrorMessage(payload)}");
                model ??= Str(root, "model");
                if (ParseUsage(root) is { } u) usage = u;
                if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
                    foreach (var choice in choices.EnumerateArray())
                    {
                        if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
                        {
                            content.Append(Str(delta, "content"));
                            reasoning.Append(Str(delta, "reasoning_content") ?? Str(delta, "reasoning"));
                        }
                        if (Str(choice, "finish_reason") is { } f) finish = f;
                    }
            }
            catch (JsonException ex)
            {
                throw new TeacherTransientException("malformed_json", $"stream chunk is not valid JSON ({ex.Message.Split(" Path:")[0].Trim()})", null, ex);
            }
        }
        if (!done && finish is null) throw new TeacherTransientException("truncated_stream", "the stream ended before a finish reason or [DONE]");
        return new TeacherResponse(content.ToString(), reasoning.ToString(), finish, usage, model);
    }

    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
        _rpm?.Dispose();
        _tpm?.Dispose();
    }
}
