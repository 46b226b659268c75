namespace HybridSharp.Eval.Reasoning;

/// <summary>Metric arithmetic over generations (no model involved): Pass@k, token statistics, per-difficulty breakdown.</summary>
public static class ReasoningMetrics
{
    /// <summary>Group label for problems without a difficulty.</summary>
    public const string NoDifficulty = "(none)";

    /// <summary>Label of the group holding every problem.</summary>
    public const string AllGroup = "all";

    /// <summary>
    /// Unbiased Pass@k from n samples of which c are correct: 1 − C(n−c, k) / C(n, k), computed as
    /// 1 − Π_{i=n−c+1..n} (1 − k / i) to stay exact for large n (Chen et al. 2021).
    /// </summary>
    public static double PassAtK(int n, int c, int k)
    {
        if (n < 1 || c < 0 || c > n) throw new ArgumentException($"need 0 ≤ c ≤ n and n ≥ 1 (n = {n}, c = {c})");
        if (k < 1 || k > n) throw new ArgumentException($"k must be in 1..n (k = {k}, n = {n})");
        if (n - c < k) return 1.0;
        double prodFail = 1.0;
        for (int i = n - c + 1; i <= n; i++) prodFail *= 1.0 - (double)k / i;
        return 1.0 - prodFail;
    }

    /// <summary>The k values reported for n samples: 1, 2, 4, … below n, and n.</summary>
    public static IReadOnlyList<int> ReportedK(int n)
    {
        var ks = new List<int>();
        for (int k = 1; k < n; k *= 2) ks.Add(k);
        if (n >= 1) ks.Add(n);
        return ks;
    }

    /// <summary>Median of a non-empty list (mean of the two middle values for even counts).</summary>
    public static double Median(IEnumerable<int> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0;
    }

    /// <summary>Metrics of one group of problems (each must have at least one sample).</summary>
    public static ReasoningSummary Summarize(string group, IReadOnlyList<ProblemResult> results)
    {
        if (results.Count == 0) throw new ArgumentException("no problems to summarise");
        if (results.Any(r => r.SampleCount == 0)) throw new ArgumentException("every problem needs at least one sample");
        var samples = results.SelectMany(r => r.Samples).ToList();
        int minN = results.Min(r => r.SampleCount);
        var passAtK = ReportedK(minN).ToDictionary(k => k, k => results.Average(r => PassAtK(r.SampleCount, r.CorrectCount, k)));
        var correct = samples.Where(s => s.Correct).ToList();
        var incorrect = samples.Where(s => !s.Correct).ToList();
        long totalTokens = samples.Sum(s => (long)s.GeneratedTokens);
        return new ReasoningSummary(
            group,
            results.Count,
            samples.Count,
            correct.Count,
            Accuracy: results.Average(r => r.Samples[0].Correct ? 1.0 : 0.0),
            Pass1: results.Average(r => (double)r.CorrectCount / r.SampleCount),
            PassAtK: passAtK,
            MeanTokens: samples.Average(s => (double)s.GeneratedTokens),
            MedianTokens: Median(samples.Select(s => s.GeneratedTokens)),
            MeanTokensCorrect: correct.Count > 0 ? correct.Average(s => (double)s.GeneratedTokens) : null,
            MeanTokensIncorrect: incorrect.Count > 0 ? incorrect.Average(s => (double)s.GeneratedTokens) : null,
            TokensPerCorrect: correct.Count > 0 ? (double)totalTokens / correct.Count : null,
            CapFraction: samples.Average(s => s.HitCap ? 1.0 : 0.0),
            NoAnswerFraction: samples.Average(s => s.Extracted is null ? 1.0 : 0.0),
            NeedsSymbolic: samples.Count(s => s.Match == AnswerMatch.NeedsSymbolic));
    }

    /// <summary>One summary per difficulty, ordered numerically when every label is a number, else by text; unlabelled last.</summary>
    public static IReadOnlyList<ReasoningSummary> ByDifficulty(IReadOnlyList<ProblemResult> results)
    {
        var groups = results.GroupBy(r => r.Problem.Difficulty ?? NoDifficulty).ToList();
        bool numeric = groups.All(g => g.Key == NoDifficulty || double.TryParse(g.Key, System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out _));
        var ordered = groups.OrderBy(g => g.Key == NoDifficulty ? 1 : 0);
        ordered = numeric
            ? ordered.ThenBy(g => g.Key == NoDifficulty ? 0 : double.Parse(g.Key, System.Globalization.CultureInfo.InvariantCulture))
            : ordered.ThenBy(g => g.Key, StringComparer.Ordinal);
        return ordered.Select(g => Summarize(g.Key, g.ToList())).ToList();
    }

    /// <summary>Scores one generation against the reference: extract (AnswerExtractor), then compare (AnswerNormalizer).</summary>
    public static ReasoningSample Score(string text, int generatedTokens, bool hitCap, string reference)
    {
        var extracted = AnswerExtractor.Extract(text);
        var match = extracted is null ? AnswerMatch.Different : AnswerNormalizer.Compare(extracted.Answer, reference);
        return new ReasoningSample(text, generatedTokens, hitCap, extracted?.Answer, extracted?.Method, match);
    }
}
