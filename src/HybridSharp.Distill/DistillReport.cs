using System.Globalization;
using System.Text;
using HybridSharp.IO;

namespace HybridSharp.Distill;

/// <summary>Writes <c>report.md</c> with PNG histograms (<c>tokens_by_difficulty.png</c>, <c>long_vs_concise.png</c>).</summary>
public static class DistillReport
{
    public static IReadOnlyList<string> Write(DistillStatistics s, string directory, string title = "Distillation report", DistillProgress? run = null)
    {
        Directory.CreateDirectory(directory);
        var files = new List<string>();
        var md = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        md.Append(ci, $"# {title}\n\n");
        md.Append(ci, $"| rows | accepted | rejected | failed (retried next run) | sent to the teacher | truncation rate |\n|---|---|---|---|---|---|\n");
        md.Append(ci, $"| {s.Rows} | {s.Accepted} | {s.Rejected} | {s.Failed} | {s.Generated} | {s.TruncationRate:P1} |\n\n");
        md.Append("## Rejections by reason\n\n");
        if (s.Reasons.Count == 0) md.Append("none\n\n");
        else
        {
            md.Append("A row counts once, under the first validator it failed; \"also found\" counts rows where a reason came later.\n\n");
            md.Append("| reason | rows | also found |\n|---|---|---|\n");
            foreach (var code in s.Reasons.Keys.Union(s.SecondaryReasons.Keys).Order(StringComparer.Ordinal))
                md.Append(ci, $"| {code} | {s.Reasons.GetValueOrDefault(code)} | {s.SecondaryReasons.GetValueOrDefault(code)} |\n");
            md.Append('\n');
        }
        md.Append(ci, $"## Token lengths of accepted rows ({s.Tokenizer} tokenizer)\n\n");
        md.Append("mean / median / p90 tokens; compression = mean long trace ÷ mean concise answer.\n\n");
        md.Append("| group | rows | long trace | thought | solution | concise answer | compression |\n|---|---|---|---|---|---|---|\n");
        foreach (var g in s.ByDifficulty.Append(s.Overall)) md.Append(Row(g));
        md.Append('\n');
        if (s.ByDomain.Count > 1)
        {
            md.Append("### By domain\n\n| group | rows | long trace | thought | solution | concise answer | compression |\n|---|---|---|---|---|---|---|\n");
            foreach (var g in s.ByDomain) md.Append(Row(g));
            md.Append('\n');
        }
        md.Append("## Teacher usage (as reported by the server)\n\n");
        md.Append(ci, $"prompt tokens {s.PromptTokens:N0}, completion tokens {s.CompletionTokens:N0}");
        if (s.ReasoningTokens is { } rt) md.Append(ci, $" (of which reasoning {rt:N0})");
        md.Append(s.Cost is { } c ? string.Create(ci, $"; estimated cost {c:0.####}\n\n") : "; no prices given\n\n");
        if (run is not null)
        {
            md.Append("## Last run\n\n");
            md.Append(ci, $"{run.Done - run.Resumed} problems in {run.Elapsed.TotalSeconds:F1} s ({run.ProblemsPerSecond:F2}/s), {run.Resumed} resumed; " +
                $"teacher calls: {run.CacheMisses} sent, {run.CacheHits} from cache; {run.HttpRequests} HTTP attempts, {run.Retries} retries.\n\n");
        }

        if (s.Samples.Count > 0)
        {
            var byDiff = Path.Combine(directory, "tokens_by_difficulty.png");
            Histogram(byDiff, "Concise answer length by difficulty", s.Samples.GroupBy(x => x.Difficulty)
                .OrderBy(g => DifficultyLabeler.Levels.ToList().IndexOf(g.Key)).Select(g => (g.Key, g.Select(x => x.Content).ToArray())).ToList());
            files.Add(byDiff);
            md.Append("![concise answer tokens by difficulty](tokens_by_difficulty.png)\n\n");
            var longs = s.Samples.Where(x => x.LongCot > 0).Select(x => x.LongCot).ToArray();
            if (longs.Length > 0)
            {
                var lvc = Path.Combine(directory, "long_vs_concise.png");
                Histogram(lvc, "Long trace vs concise answer", [("long trace", longs), ("concise answer", s.Samples.Select(x => x.Content).ToArray())]);
                files.Add(lvc);
                md.Append("![long trace vs concise answer tokens](long_vs_concise.png)\n");
            }
        }
        var report = Path.Combine(directory, "report.md");
        AtomicFile.WriteAllText(report, md.ToString());
        files.Insert(0, report);
        return files;
    }

    private static string Row(GroupLengths g) => string.Create(CultureInfo.InvariantCulture,
        $"| {g.Group} | {g.Rows} | {L(g.LongCot)} | {L(g.Thought)} | {L(g.Solution)} | {L(g.Content)} | {(g.Compression > 0 ? g.Compression.ToString("F2", CultureInfo.InvariantCulture) + "×" : "–")} |\n");

    private static string L(LengthSummary l) => l.Count == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{l.Mean:F0} / {l.Median:F0} / {l.P90:F0}");

    private static void Histogram(string path, string title, IReadOnlyList<(string Name, int[] Values)> series)
    {
        int max = Math.Max(1, series.SelectMany(s => s.Values).DefaultIfEmpty(1).Max());
        const int bins = 30;
        double width = Math.Max(1, Math.Ceiling(max / (double)bins));
        var plot = new ScottPlot.Plot();
        int k = 0;
        foreach (var (name, values) in series)
        {
            var counts = new double[bins + 1];
            foreach (var v in values) counts[Math.Min(bins, (int)(v / width))]++;
            var positions = Enumerable.Range(0, bins + 1).Select(i => (i + 0.5) * width).ToArray();
            var bars = plot.Add.Bars(positions, counts);
            bars.LegendText = $"{name} (n={values.Length})";
            var color = ScottPlot.Palette.Default.GetColor(k++).WithAlpha(0.55);
            foreach (var b in bars.Bars) { b.Size = width; b.FillColor = color; b.LineWidth = 0; }
        }
        plot.Title(title);
        plot.XLabel("tokens");
        plot.YLabel("rows");
        plot.ShowLegend();
        var tmp = path + ".tmp.png";
        plot.SavePng(tmp, 900, 500);
        File.Move(tmp, path, overwrite: true);
    }
}
