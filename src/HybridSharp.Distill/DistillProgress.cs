namespace HybridSharp.Distill;

/// <summary>A live snapshot of a run (also the final summary).</summary>
public sealed record DistillProgress
{
    /// <summary>Problems this run must finish (after filters, dedup and limit).</summary>
    public int Total { get; init; }
    /// <summary>Finished already before this run started (resumed).</summary>
    public int Resumed { get; init; }
    /// <summary>Finished (accepted + rejected + failed), including resumed.</summary>
    public int Done { get; init; }
    public int Accepted { get; init; }
    public int Rejected { get; init; }
    public int Failed { get; init; }
    public int InFlight { get; init; }
    /// <summary>Teacher calls answered from the cache this run.</summary>
    public long CacheHits { get; init; }
    /// <summary>Teacher calls that went to the network and succeeded this run.</summary>
    public long CacheMisses { get; init; }
    /// <summary>HTTP attempts (including retries) and retries this run.</summary>
    public long HttpRequests { get; init; }
    public long Retries { get; init; }
    /// <summary>Usage reported by the server for calls made this run.</summary>
    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }
    public TimeSpan Elapsed { get; init; }
    public double CompletionTokensPerSecond => Elapsed.TotalSeconds > 0 ? CompletionTokens / Elapsed.TotalSeconds : 0;
    public double ProblemsPerSecond => Elapsed.TotalSeconds > 0 ? (Done - Resumed) / Elapsed.TotalSeconds : 0;
    /// <summary>Estimated time left, from this run's rate; null before the first problem finishes.</summary>
    public TimeSpan? Eta => ProblemsPerSecond > 0 ? TimeSpan.FromSeconds((Total - Done) / ProblemsPerSecond) : null;
    /// <summary>Rejection/failure counts by reason code (final summary).</summary>
    public IReadOnlyDictionary<string, int> Reasons { get; init; } = new Dictionary<string, int>();
    public bool Cancelled { get; init; }
}
