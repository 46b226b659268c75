namespace HybridSharp.Distill;

/// <summary>Dedup and decontamination settings.</summary>
public sealed record DedupOptions
{
    /// <summary>Drop problems whose whitespace/case-normalised text equals an earlier one.</summary>
    public bool Exact { get; init; } = true;
    /// <summary>Drop problems whose FuzzySharp ratio to an earlier one is ≥ <see cref="Threshold"/>.</summary>
    public bool Fuzzy { get; init; } = true;
    public int Threshold { get; init; } = 95;
    /// <summary>Compare only within the same domain (as upstream).</summary>
    public bool WithinDomain { get; init; } = true;
    /// <summary>Above this many texts, candidates come from MinHash-LSH instead of a length-window scan.</summary>
    public int MinHashAbove { get; init; } = 2000;
    /// <summary>Evaluation problems: training problems with ratio ≥ threshold (or exactly equal) to any are dropped.</summary>
    public IReadOnlyList<string> EvalTexts { get; init; } = [];
}
