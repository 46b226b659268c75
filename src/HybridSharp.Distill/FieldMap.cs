namespace HybridSharp.Distill;

/// <summary>Which input fields (JSONL keys or Parquet columns) hold which part of a problem.</summary>
public sealed record FieldMap
{
    public string Problem { get; init; } = "problem";
    /// <summary>Reference answer or full reference solution.</summary>
    public string Reference { get; init; } = "solution";
    /// <summary>Optional id field; when absent from a row the id is the first 16 hex of SHA-256(problem).</summary>
    public string? Id { get; init; } = "id";
    /// <summary>Optional existing long chain of thought (used by two-call mode instead of a first call).</summary>
    public string? LongCot { get; init; }
    /// <summary>Optional domain field; rows without one get <see cref="DefaultDomain"/>.</summary>
    public string? Domain { get; init; } = "domain";
    public string DefaultDomain { get; init; } = "math";
}
