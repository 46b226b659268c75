using HybridSharp.Data;

namespace HybridSharp.Distill;

/// <summary>One-call (DAP system prompt, reasoning = long trace) or two-call (long trace, then DAP rewrite) —</summary>
public enum DistillMode { OneCall, TwoCall }

/// <summary>What to do when a teacher call still fails after all retries.</summary>
public enum FailurePolicy
{
    /// <summary>Record the row as failed (retried on the next run) and go on.</summary>
    Drop,
    /// <summary>Stop the run at the first exhausted failure.</summary>
    Fail,
}

/// <summary>Everything a <see cref="DistillPipeline"/> run needs besides the teacher client and the store.</summary>
public sealed record DistillOptions
{
    public DistillMode Mode { get; init; } = DistillMode.OneCall;
    public PromptSet Prompts { get; init; } = PromptSet.BuiltIn();
    public GenerationParameters Generation { get; init; } = new();
    /// <summary>Two-call mode: give the reference answer to the rewrite call as well.</summary>
    public bool ReferenceInRewrite { get; init; } = true;
    /// <summary>Two-call mode: take the input's long CoT when a row has one, instead of calling the teacher.</summary>
    public bool UseInputLongCot { get; init; } = true;
    public ValidatorOptions Validators { get; init; } = new();
    public SourceFilterOptions SourceFilters { get; init; } = new();
    /// <summary>Check the source filters before generation (dropped rows are never sent); otherwise only after it.</summary>
    public bool PreFilter { get; init; } = true;
    public DedupOptions? Dedup { get; init; } = new();
    public int Concurrency { get; init; } = 8;
    public FailurePolicy OnFailure { get; init; } = FailurePolicy.Drop;
    /// <summary>Tokenizer for the token budget validator (null: budget in characters only).</summary>
    public ITokenizer? BudgetTokenizer { get; init; }
    /// <summary>Process only the first N problems (after filters); null = all.</summary>
    public int? Limit { get; init; }
    /// <summary>How often progress is reported.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);
}
