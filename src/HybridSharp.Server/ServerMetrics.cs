using Prometheus;

namespace HybridSharp.Server;

/// <summary>
/// The server's Prometheus metrics (prometheus-net, a registry per server), served as text at <c>GET /metrics</c>:
/// requests by route and status, prompt and completion tokens, queue depth and live sequences, time to first token,
/// per-request decode speed and the batch size of each decode step.
/// </summary>
internal sealed class ServerMetrics
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();

    public ServerMetrics(Func<int> waiting, Func<int> active)
    {
        var factory = Metrics.WithCustomRegistry(_registry);
        Requests = factory.CreateCounter("hybrid_requests_total", "HTTP requests by route and status code.", "route", "status");
        PromptTokens = factory.CreateCounter("hybrid_prompt_tokens_total", "Prompt tokens of finished requests.");
        CompletionTokens = factory.CreateCounter("hybrid_completion_tokens_total", "Generated tokens of finished requests (all choices).");
        TimeToFirstToken = factory.CreateHistogram("hybrid_time_to_first_token_seconds", "From the request's arrival to its first generated text or token.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.005, 2, 14) });
        DecodeTokensPerSecond = factory.CreateHistogram("hybrid_decode_tokens_per_second", "Per choice: tokens after the first ÷ time after the first.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 14) });
        BatchSize = factory.CreateHistogram("hybrid_batch_size", "Sequences advanced by each decode step.",
            new HistogramConfiguration { Buckets = Histogram.LinearBuckets(1, 1, 16) });
        var queue = factory.CreateGauge("hybrid_queue_depth", "Requests waiting for a batch row.");
        var live = factory.CreateGauge("hybrid_active_sequences", "Sequences holding a batch row.");
        _registry.AddBeforeCollectCallback(() =>
        {
            queue.Set(waiting());
            live.Set(active());
        });
    }

    public Counter Requests { get; }
    public Counter PromptTokens { get; }
    public Counter CompletionTokens { get; }
    public Histogram TimeToFirstToken { get; }
    public Histogram DecodeTokensPerSecond { get; }
    public Histogram BatchSize { get; }

    /// <summary>Writes every metric in the Prometheus text exposition format.</summary>
    public Task WriteAsync(Stream stream, CancellationToken cancellation) => _registry.CollectAndExportAsTextAsync(stream, cancellation);
}
