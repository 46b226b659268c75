using System.Globalization;
using System.Text;
using System.Text.Json;
using HybridSharp.IO;

namespace HybridSharp.Eval.Reasoning;

/// <summary>
/// Writes an evaluation's results into a folder: <c>report.md</c> (settings, overall and per-difficulty tables),
/// <c>summary.csv</c> (one row per group), <c>problems.csv</c> (one row per problem), <c>generations.jsonl</c> (every
/// sample) and <c>accuracy_tokens.png</c> (accuracy and mean generated tokens per difficulty).
/// </summary>
public static class ReasoningReport
{
    public const string MarkdownFile = "report.md", SummaryCsvFile = "summary.csv", ProblemsCsvFile = "problems.csv",
        GenerationsFile = "generations.jsonl", PlotFile = "accuracy_tokens.png";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes all files; <paramref name="settings"/> (name → value) are listed at the top of the markdown.</summary>
    public static (ReasoningSummary Overall, IReadOnlyList<ReasoningSummary> ByDifficulty) Write(string directory, IReadOnlyList<ProblemResult> results,
        IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        if (results.Count == 0) throw new ArgumentException("no evaluated problems to report");
        Directory.CreateDirectory(directory);
        var overall = ReasoningMetrics.Summarize(ReasoningMetrics.AllGroup, results);
        var byDifficulty = ReasoningMetrics.ByDifficulty(results);
        AtomicFile.WriteAllText(Path.Combine(directory, MarkdownFile), Markdown(overall, byDifficulty, settings));
        AtomicFile.WriteAllText(Path.Combine(directory, SummaryCsvFile), SummaryCsv([overall, .. byDifficulty]));
        AtomicFile.WriteAllText(Path.Combine(directory, ProblemsCsvFile), ProblemsCsv(results));
        AtomicFile.WriteAllText(Path.Combine(directory, GenerationsFile), Generations(results));
        WritePlot(byDifficulty, Path.Combine(directory, PlotFile));
        return (overall, byDifficulty);
    }

    private static string F(double v, int digits = 4) => v.ToString("F" + digits, Inv);
    private static string F(double? v, int digits = 4) => v is { } x ? F(x, digits) : "";
    private static string Pct(double v) => (100 * v).ToString("F1", Inv) + " %";

    public static string Markdown(ReasoningSummary overall, IReadOnlyList<ReasoningSummary> byDifficulty, IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        var sb = new StringBuilder();
        sb.Append("# Reasoning evaluation\n\n");
        foreach (var (name, value) in settings) sb.Append("- ").Append(name).Append(": ").Append(value).Append('\n');
        sb.Append('\n');
        var ks = overall.PassAtK.Keys.OrderBy(k => k).Where(k => k > 1).ToList();
        var header = "| group | problems | samples | accuracy | pass@1 | " + string.Concat(ks.Select(k => $"pass@{k} | ")) +
            "mean tokens | median tokens | tokens / correct | hit cap | no answer |";
        sb.Append(header).Append('\n');
        sb.Append('|').Append(string.Concat(Enumerable.Repeat("---|", header.Count(c => c == '|') - 1))).Append('\n');
        foreach (var s in new[] { overall }.Concat(byDifficulty))
        {
            sb.Append($"| {s.Group} | {s.Problems} | {s.Samples} | {Pct(s.Accuracy)} | {Pct(s.Pass1)} | ");
            foreach (var k in ks) sb.Append(s.PassAtK.TryGetValue(k, out var v) ? Pct(v) : "–").Append(" | ");
            sb.Append($"{F(s.MeanTokens, 1)} | {F(s.MedianTokens, 1)} | {(s.TokensPerCorrect is { } t ? F(t, 1) : "–")} | {Pct(s.CapFraction)} | {Pct(s.NoAnswerFraction)} |\n");
        }
        sb.Append('\n');
        sb.Append($"Mean tokens of correct samples: {(overall.MeanTokensCorrect is { } c ? F(c, 1) : "–")}; of incorrect samples: {(overall.MeanTokensIncorrect is { } ic ? F(ic, 1) : "–")}.\n");
        if (overall.NeedsSymbolic > 0)
            sb.Append($"{overall.NeedsSymbolic} sample(s) were counted wrong but would need a symbolic (computer-algebra) check.\n");
        sb.Append("\nAccuracy = first sample correct; pass@1 = mean fraction of correct samples; pass@k = unbiased estimator 1 − C(n−c, k)/C(n, k); ")
          .Append("tokens / correct = all generated tokens ÷ correct samples.\n");
        return sb.ToString();
    }

    public static string SummaryCsv(IReadOnlyList<ReasoningSummary> groups)
    {
        var ks = groups.SelectMany(g => g.PassAtK.Keys).Distinct().OrderBy(k => k).ToList();
        var sb = new StringBuilder("group,problems,samples,correct_samples,accuracy,pass_at_1_mean," + string.Concat(ks.Select(k => $"pass_at_{k},")) +
            "mean_tokens,median_tokens,mean_tokens_correct,mean_tokens_incorrect,tokens_per_correct,cap_fraction,no_answer_fraction,needs_symbolic\n");
        foreach (var g in groups)
        {
            sb.Append(Csv(g.Group)).Append(',').Append(g.Problems).Append(',').Append(g.Samples).Append(',').Append(g.CorrectSamples).Append(',')
              .Append(F(g.Accuracy)).Append(',').Append(F(g.Pass1)).Append(',');
            foreach (var k in ks) sb.Append(g.PassAtK.TryGetValue(k, out var v) ? F(v) : "").Append(',');
            sb.Append(F(g.MeanTokens, 2)).Append(',').Append(F(g.MedianTokens, 2)).Append(',').Append(F(g.MeanTokensCorrect, 2)).Append(',')
              .Append(F(g.MeanTokensIncorrect, 2)).Append(',').Append(F(g.TokensPerCorrect, 2)).Append(',').Append(F(g.CapFraction)).Append(',')
              .Append(F(g.NoAnswerFraction)).Append(',').Append(g.NeedsSymbolic).Append('\n');
        }
        return sb.ToString();
    }

    public static string ProblemsCsv(IReadOnlyList<ProblemResult> results)
    {
        var sb = new StringBuilder("id,difficulty,reference,samples,correct,pass_at_1,first_answer,first_correct,first_method,mean_tokens,cap_hits\n");
        foreach (var r in results)
        {
            var first = r.Samples[0];
            sb.Append(Csv(r.Problem.Id)).Append(',').Append(Csv(r.Problem.Difficulty ?? "")).Append(',').Append(Csv(r.Problem.Answer)).Append(',')
              .Append(r.SampleCount).Append(',').Append(r.CorrectCount).Append(',').Append(F((double)r.CorrectCount / r.SampleCount)).Append(',')
              .Append(Csv(first.Extracted ?? "")).Append(',').Append(first.Correct ? "1" : "0").Append(',').Append(Csv(first.Method ?? "")).Append(',')
              .Append(F(r.Samples.Average(s => (double)s.GeneratedTokens), 2)).Append(',').Append(r.Samples.Count(s => s.HitCap)).Append('\n');
        }
        return sb.ToString();
    }

    private static string Generations(IReadOnlyList<ProblemResult> results)
    {
        var sb = new StringBuilder();
        foreach (var r in results)
            for (int i = 0; i < r.Samples.Count; i++)
            {
                var s = r.Samples[i];
                sb.Append(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["id"] = r.Problem.Id, ["sample"] = i, ["difficulty"] = r.Problem.Difficulty, ["reference"] = r.Problem.Answer,
                    ["extracted"] = s.Extracted, ["method"] = s.Method, ["match"] = s.Match.ToString().ToLowerInvariant(), ["correct"] = s.Correct,
                    ["tokens"] = s.GeneratedTokens, ["hit_cap"] = s.HitCap, ["prompt"] = r.Prompt, ["text"] = s.Text,
                })).Append('\n');
            }
        return sb.ToString();
    }

    /// <summary>RFC 4180 quoting when needed.</summary>
    public static string Csv(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;

    /// <summary>Accuracy (bars, left axis, %) and mean generated tokens (line, right axis) per difficulty.</summary>
    public static void WritePlot(IReadOnlyList<ReasoningSummary> byDifficulty, string pngPath)
    {
        var plot = new ScottPlot.Plot();
        var xs = Enumerable.Range(0, byDifficulty.Count).Select(i => (double)i).ToArray();
        var bars = plot.Add.Bars(xs, byDifficulty.Select(s => 100 * s.Accuracy).ToArray());
        bars.LegendText = "accuracy (%)";
        var tokens = plot.Add.Scatter(xs, byDifficulty.Select(s => s.MeanTokens).ToArray());
        tokens.LegendText = "mean generated tokens";
        tokens.Axes.YAxis = plot.Axes.Right;
        tokens.LineWidth = 2;
        tokens.MarkerSize = 7;
        plot.Axes.Bottom.SetTicks(xs, byDifficulty.Select(s => s.Group).ToArray());
        plot.Axes.Left.Label.Text = "accuracy (%)";
        plot.Axes.Right.Label.Text = "mean generated tokens";
        plot.Axes.Bottom.Label.Text = "difficulty";
        plot.Axes.SetLimitsY(0, 105, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, Math.Max(1, byDifficulty.Max(s => s.MeanTokens)) * 1.1, plot.Axes.Right);
        plot.Title("Accuracy and generated tokens by difficulty");
        plot.ShowLegend();
        var tmp = pngPath + ".tmp.png";
        plot.SavePng(tmp, 900, 500);
        File.Move(tmp, pngPath, overwrite: true);
    }
}
