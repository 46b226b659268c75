namespace HybridSharp.Inference;

/// <summary>
/// Sampler chain settings, applied in this order: repetition / frequency / presence penalties → top-k → top-p →
/// min-p → temperature → multinomial draw from a seeded generator. Temperature 0 means greedy (argmax after penalties).
/// Repetition penalty (HF/CTRL style) covers prompt and generated tokens; frequency and presence penalties
/// (OpenAI semantics) cover generated tokens only.
/// </summary>
public sealed record SamplingOptions
{
    public double Temperature { get; init; } = 0.7;
    /// <summary>0 = off.</summary>
    public int TopK { get; init; } = 40;
    /// <summary>1 = off.</summary>
    public double TopP { get; init; } = 0.95;
    /// <summary>0 = off.</summary>
    public double MinP { get; init; } = 0.05;
    /// <summary>1 = off.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    public double FrequencyPenalty { get; init; }
    public double PresencePenalty { get; init; }
    public long Seed { get; init; } = 42;

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0, TopK = 0, TopP = 1, MinP = 0 };

    public void Validate()
    {
        if (Temperature < 0) throw new ArgumentException("temperature must be ≥ 0");
        if (TopK < 0) throw new ArgumentException("top-k must be ≥ 0");
        if (TopP is <= 0 or > 1) throw new ArgumentException("top-p must be in (0, 1]");
        if (MinP is < 0 or >= 1) throw new ArgumentException("min-p must be in [0, 1)");
        if (RepetitionPenalty <= 0) throw new ArgumentException("repetition penalty must be > 0");
    }
}
