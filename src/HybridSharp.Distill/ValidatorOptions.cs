namespace HybridSharp.Distill;

/// <summary>The switchable validators and their limits. Reason codes: <see cref="RejectionCodes"/>.</summary>
public sealed record ValidatorOptions
{
    public bool Truncated { get; init; } = true;
    public bool Empty { get; init; } = true;
    /// <summary>Also reject rows whose long trace (reasoning) is empty.</summary>
    public bool RequireReasoning { get; init; }
    public bool Format { get; init; } = true;
    public bool Framework { get; init; } = true;
    /// <summary>Keep rows whose difficulty is "unknown" (framework validator then only checks known levels).</summary>
    public bool KeepUnknown { get; init; }
    public bool Budget { get; init; } = true;
    /// <summary>Largest solution block in characters (legacy target ≈ 2048; default allows 4× that).</summary>
    public int? MaxSolutionChars { get; init; } = 8192;
    /// <summary>Largest solution block in tokens of the report tokenizer; null = unchecked.</summary>
    public int? MaxSolutionTokens { get; init; }
    public bool Answer { get; init; } = true;
    public bool Source { get; init; } = true;

    /// <summary>Parses "truncated,empty,…" (the enabled set) — unknown names throw.</summary>
    public static ValidatorOptions FromList(string list, ValidatorOptions? template = null)
    {
        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToHashSet();
        foreach (var n in names)
            if (n != "none" && !RejectionCodes.Validators.Contains(n))
                throw new ArgumentException($"unknown validator '{n}' (known: {string.Join(", ", RejectionCodes.Validators)}, none)");
        var t = template ?? new ValidatorOptions();
        return t with
        {
            Truncated = names.Contains(RejectionCodes.Truncated), Empty = names.Contains(RejectionCodes.Empty), Format = names.Contains(RejectionCodes.Format),
            Framework = names.Contains(RejectionCodes.Framework), Budget = names.Contains(RejectionCodes.Budget),
            Answer = names.Contains(RejectionCodes.Answer), Source = names.Contains(RejectionCodes.Source),
        };
    }

    public string Describe() => string.Join(",", new[]
    {
        Truncated ? RejectionCodes.Truncated : null, Empty ? RejectionCodes.Empty : null, Format ? RejectionCodes.Format : null,
        Framework ? RejectionCodes.Framework : null, Budget ? RejectionCodes.Budget : null, Answer ? RejectionCodes.Answer : null,
        Source ? RejectionCodes.Source : null,
    }.Where(s => s is not null));
}

/// <summary>Reason codes recorded with every rejected or failed row.</summary>
public static class RejectionCodes
{
    public const string Truncated = "truncated", Empty = "empty", Format = "format", Framework = "framework", Budget = "budget",
        Answer = "answer", Source = "source";
    /// <summary>Dropped before generation: near-duplicate of an earlier problem, or near an evaluation item.</summary>
    public const string Duplicate = "duplicate", Contaminated = "contaminated";
    /// <summary>The teacher call failed after all retries (row is retried on the next run).</summary>
    public const string TeacherError = "teacher_error";

    public static readonly IReadOnlyList<string> Validators = [Truncated, Empty, Format, Framework, Budget, Answer, Source];
}
