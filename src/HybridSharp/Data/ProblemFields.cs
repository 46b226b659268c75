namespace HybridSharp.Data;

/// <summary>
/// Which fields (JSONL keys or Parquet columns) of a problem set hold which part of a problem — the one field map of
/// every problem reader (reasoning evaluation, distillation). A null field is not read.
/// </summary>
public sealed record ProblemFields
{
    /// <summary>The problem statement (required in every record).</summary>
    public string Problem { get; init; } = "problem";
    /// <summary>The reference answer or solution.</summary>
    public string Answer { get; init; } = "answer";
    /// <summary>A stable identifier; readers fall back on the record number or a hash of the problem when absent.</summary>
    public string? Id { get; init; } = "id";
    /// <summary>A difficulty label (reported per level by the reasoning evaluation).</summary>
    public string? Difficulty { get; init; } = "difficulty";
    /// <summary>An existing long chain of thought (distillation input).</summary>
    public string? LongCot { get; init; }
    /// <summary>The domain label ("math", "code", …) of a distillation input.</summary>
    public string? Domain { get; init; } = "domain";
    /// <summary>The domain of records without one.</summary>
    public string DefaultDomain { get; init; } = "math";
}
