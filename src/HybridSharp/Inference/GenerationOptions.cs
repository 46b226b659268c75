namespace HybridSharp.Inference;

/// <summary>What to generate: token budget, stop conditions and sampling.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 128;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Generation ends (text cut before the stop string) when any of these appears.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Token ids that end generation (not included in the text). Null = the tokenizer's EOS.</summary>
    public IReadOnlyList<int>? StopTokens { get; init; }
    /// <summary>Frame each prompt with the special tokens its tokenizer adds (BOS for most; none for Qwen).</summary>
    public bool AddBos { get; init; } = true;
}

/// <summary>Why generation ended: "stop" (stop token or string) or "length" (token budget).</summary>
public static class FinishReason
{
    public const string Stop = "stop";
    public const string Length = "length";
}

/// <summary>One prompt's result.</summary>
public sealed record GenerationResult(string Text, int PromptTokens, int GeneratedTokens, string FinishReason, IReadOnlyList<int> TokenIds);
