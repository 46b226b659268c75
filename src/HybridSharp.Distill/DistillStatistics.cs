using HybridSharp.Data;

namespace HybridSharp.Distill;

/// <summary>Mean, median and 90th percentile of a token-length sample.</summary>
public sealed record LengthSummary(int Count, double Mean, double Median, double P90)
{
    public static LengthSummary Of(IReadOnlyList<int> values)
    {
        if (values.Count == 0) return new LengthSummary(0, 0, 0, 0);
        var sorted = values.Order().ToArray();
        return new LengthSummary(sorted.Length, sorted.Average(), Quantile(sorted, 0.5), Quantile(sorted, 0.9));
    }

    private static double Quantile(int[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}

/// <summary>Token lengths of one group of rows (a difficulty, a domain or all accepted rows).</summary>
public sealed record GroupLengths(string Group, int Rows, LengthSummary LongCot, LengthSummary Thought, LengthSummary Solution, LengthSummary Content)
{
    /// <summary>Mean long-trace tokens ÷ mean concise-answer tokens (0 when either is missing).</summary>
    public double Compression => LongCot.Mean > 0 && Content.Mean > 0 ? LongCot.Mean / Content.Mean : 0;
}

/// <summary>Everything the report states.</summary>
public sealed record DistillStatistics
{
    public int Rows { get; init; }
    public int Accepted { get; init; }
    public int Rejected { get; init; }
    public int Failed { get; init; }
    /// <summary>Rows carrying each reason code (a row may carry several).</summary>
    /// <summary>Rejected rows by primary reason (the first validator that failed).</summary>
    public IReadOnlyDictionary<string, int> Reasons { get; init; } = new Dictionary<string, int>();
    /// <summary>Rows where a code was found after the primary reason (secondary findings), by code.</summary>
    public IReadOnlyDictionary<string, int> SecondaryReasons { get; init; } = new Dictionary<string, int>();
    /// <summary>Rows that reached the teacher (not dropped before generation).</summary>
    public int Generated { get; init; }
    public double TruncationRate { get; init; }
    public IReadOnlyDictionary<string, int> DifficultyCounts { get; init; } = new Dictionary<string, int>();
    public IReadOnlyList<GroupLengths> ByDifficulty { get; init; } = [];
    public IReadOnlyList<GroupLengths> ByDomain { get; init; } = [];
    public GroupLengths Overall { get; init; } = new("all", 0, LengthSummary.Of([]), LengthSummary.Of([]), LengthSummary.Of([]), LengthSummary.Of([]));
    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }
    public long? ReasoningTokens { get; init; }
    public double? Cost { get; init; }
    public string Tokenizer { get; init; } = "";
    /// <summary>Per accepted row: (difficulty, long tokens, content tokens) — the histogram data.</summary>
    public IReadOnlyList<(string Difficulty, int LongCot, int Content)> Samples { get; init; } = [];

    /// <summary>Computes statistics over stored rows. Lengths are counted with <paramref name="tokenizer"/>; usage and cost come from the server's reports.</summary>
    public static DistillStatistics Compute(IReadOnlyList<DistillRow> rows, ITokenizer tokenizer, string tokenizerName,
        double? pricePerMillionInput = null, double? pricePerMillionOutput = null)
    {
        var reasons = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var secondary = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in rows)
        {
            if (r.Reason is { } primary) reasons[primary] = reasons.GetValueOrDefault(primary) + 1;
            foreach (var code in r.Rejections.Skip(1).Select(x => x.Code).Distinct().Where(c => c != r.Reason))
                secondary[code] = secondary.GetValueOrDefault(code) + 1;
        }
        var generated = rows.Where(r => r.Calls.Count > 0 || r.LongCotSource == "input").ToList();
        var accepted = rows.Where(r => r.Status == DistillRow.Accepted).ToList();
        var measured = accepted.Select(r => (Row: r, Long: Count(tokenizer, r.LongCot), Thought: Count(tokenizer, r.Thought),
            Solution: Count(tokenizer, r.Solution), Content: Count(tokenizer, r.Content))).ToList();
        GroupLengths Group(string name, IEnumerable<(DistillRow Row, int Long, int Thought, int Solution, int Content)> g)
        {
            var list = g.ToList();
            return new GroupLengths(name, list.Count, LengthSummary.Of(list.Where(x => x.Row.LongCot.Length > 0).Select(x => x.Long).ToList()),
                LengthSummary.Of(list.Select(x => x.Thought).ToList()), LengthSummary.Of(list.Select(x => x.Solution).ToList()),
                LengthSummary.Of(list.Select(x => x.Content).ToList()));
        }
        long prompt = generated.Sum(r => (long)(r.Usage?.PromptTokens ?? 0)), completion = generated.Sum(r => (long)(r.Usage?.CompletionTokens ?? 0));
        long? reasoning = generated.Any(r => r.Usage?.ReasoningTokens is not null) ? generated.Sum(r => (long)(r.Usage?.ReasoningTokens ?? 0)) : null;
        double? cost = pricePerMillionInput is null && pricePerMillionOutput is null ? null
            : prompt / 1e6 * (pricePerMillionInput ?? 0) + completion / 1e6 * (pricePerMillionOutput ?? 0);
        return new DistillStatistics
        {
            Rows = rows.Count,
            Accepted = accepted.Count,
            Rejected = rows.Count(r => r.Status == DistillRow.Rejected),
            Failed = rows.Count(r => r.Status == DistillRow.Failed),
            Reasons = reasons,
            SecondaryReasons = secondary,
            Generated = generated.Count,
            TruncationRate = generated.Count == 0 ? 0 : generated.Count(r => r.Rejections.Any(x => x.Code == RejectionCodes.Truncated) || r.FinishReason == "length") / (double)generated.Count,
            DifficultyCounts = DifficultyLabeler.Levels.ToDictionary(l => l, l => accepted.Count(r => r.Difficulty == l)),
            ByDifficulty = DifficultyLabeler.Levels.Select(l => Group(l, measured.Where(m => m.Row.Difficulty == l))).Where(g => g.Rows > 0).ToList(),
            ByDomain = measured.GroupBy(m => m.Row.Domain).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Group(g.Key, g)).ToList(),
            Overall = Group("all", measured),
            PromptTokens = prompt,
            CompletionTokens = completion,
            ReasoningTokens = reasoning,
            Cost = cost,
            Tokenizer = tokenizerName,
            Samples = measured.Select(m => (m.Row.Difficulty, m.Long, m.Content)).ToList(),
        };
    }

    private static int Count(ITokenizer tokenizer, string text) => text.Length == 0 ? 0 : tokenizer.Encode(text).Length;
}
