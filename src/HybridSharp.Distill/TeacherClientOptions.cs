namespace HybridSharp.Distill;

/// <summary>Connection, rate-limit and retry settings of a <see cref="TeacherClient"/>.</summary>
public sealed record TeacherClientOptions
{
    /// <summary>One or more base URLs ending before <c>/chat/completions</c> (e.g. <c>http://127.0.0.1:8000/v1</c>); requests rotate over them.</summary>
    public required IReadOnlyList<Uri> BaseUrls { get; init; }
    public required string Model { get; init; }
    /// <summary>Bearer token; null sends no Authorization header (local servers).</summary>
    public string? ApiKey { get; init; }
    /// <summary>Use SSE streaming (<c>stream: true</c> with <c>stream_options.include_usage</c>).</summary>
    public bool Stream { get; init; }
    /// <summary>Per-attempt timeout; long reasoning needs minutes.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Retries after the first attempt for transient failures.</summary>
    public int MaxRetries { get; init; } = 6;
    /// <summary>Base of the exponential backoff (jittered).</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Requests per minute (all base URLs together); null = unlimited.</summary>
    public int? RequestsPerMinute { get; init; }
    /// <summary>Tokens per minute (prompt estimate before the call, completion tokens after it); null = unlimited.</summary>
    public int? TokensPerMinute { get; init; }
}
