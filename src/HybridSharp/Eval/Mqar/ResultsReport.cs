using System.Globalization;
using System.Text;
using HybridSharp.IO;
using HybridSharp.Training;

namespace HybridSharp.Eval.Mqar;

/// <summary>
/// One markdown page (<c>report.md</c>) gathering the project's results: every MQAR results folder (its table,
/// regenerated from <c>results.jsonl</c>, and chart) and every training run folder (final metrics from
/// <c>metrics.jsonl</c> and its <c>loss.png</c>). Links are relative to the page.
/// </summary>
public static class ResultsReport
{
    public const string MetricsFileName = Trainer.MetricsFileName;
    public const string LossPlotName = Trainer.LossPlotFileName;

    /// <summary>Writes the page to <paramref name="reportPath"/> (atomic) and returns its text.</summary>
    public static string Write(string reportPath, IReadOnlyList<string> mqarDirs, IReadOnlyList<string> runDirs, string? benchmarksPath = null)
    {
        var text = Build(Path.GetDirectoryName(Path.GetFullPath(reportPath))!, mqarDirs, runDirs, benchmarksPath);
        AtomicFile.WriteAllText(reportPath, text);
        return text;
    }

    /// <summary>The page's markdown; links are made relative to <paramref name="reportDir"/>.</summary>
    public static string Build(string reportDir, IReadOnlyList<string> mqarDirs, IReadOnlyList<string> runDirs, string? benchmarksPath = null)
    {
        foreach (var d in mqarDirs.Concat(runDirs))
            if (!Directory.Exists(d)) throw new DirectoryNotFoundException($"results folder not found: {d}");
        var sb = new StringBuilder();
        sb.Append("# HybridSharp report\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"Generated {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        if (benchmarksPath is not null && File.Exists(benchmarksPath))
            sb.Append(" Micro-benchmarks and throughput: [").Append(Path.GetFileName(benchmarksPath)).Append("](").Append(Link(reportDir, benchmarksPath)).Append(").");
        sb.Append('\n');
        if (mqarDirs.Count == 0 && runDirs.Count == 0) sb.Append("\nNo results folders were given.\n");

        foreach (var dir in mqarDirs) AppendMqar(sb, reportDir, dir);
        if (runDirs.Count > 0) AppendRuns(sb, reportDir, runDirs);
        return sb.ToString();
    }

    private static void AppendMqar(StringBuilder sb, string reportDir, string dir)
    {
        sb.Append("\n## MQAR: ").Append(Link(reportDir, dir)).Append("\n\n");
        var store = new MqarResultStore(dir);
        if (store.Count == 0)
        {
            sb.Append("No finished cells.\n");
            return;
        }
        foreach (var group in store.All.GroupBy(r => r.Protocol))
        {
            var results = group.ToList();
            var first = results[0];
            sb.Append(first.NumKvPairs == MqarCell.MixedPairs
                ? string.Create(CultureInfo.InvariantCulture, $"Protocol `{group.Key}`: one model per T on a mixture of its K values ({first.TrainExamples:N0} train examples at T {first.SeqLen}) × ≤ {first.MaxEpochs} epochs, {first.TestExamples:N0} test examples over its slices; {results.Count} models.\n\n")
                : string.Create(CultureInfo.InvariantCulture, $"Protocol `{group.Key}`: {first.TrainExamples:N0} train examples × ≤ {first.MaxEpochs} epochs, {first.TestExamples:N0} test examples per (T, K); {results.Count} cells.\n\n"));
            sb.Append(MqarReport.SummaryTable(MqarReport.Best(results))).Append('\n');
        }
        var png = Path.Combine(dir, MqarReport.PngName);
        if (File.Exists(png)) sb.Append("![MQAR accuracy against d_model](").Append(Link(reportDir, png)).Append(")\n");
        var csv = Path.Combine(dir, MqarReport.CsvName);
        if (File.Exists(csv)) sb.Append("\nData: [").Append(MqarReport.CsvName).Append("](").Append(Link(reportDir, csv)).Append(").\n");
    }

    private static void AppendRuns(StringBuilder sb, string reportDir, IReadOnlyList<string> runDirs)
    {
        sb.Append("\n## Training runs\n\n");
        sb.Append("| run | steps | tokens | train loss | eval loss | eval perplexity | tok/s |\n|---|---|---|---|---|---|---|\n");
        foreach (var dir in runDirs)
        {
            var metrics = MetricsLog.Read(Path.Combine(dir, MetricsFileName));
            var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            if (metrics.Count == 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"| {name} | – | – | – | – | – | – |\n");
                continue;
            }
            var last = metrics[^1];
            var lastLoss = metrics.LastOrDefault(m => m.Loss is not null)?.Loss;
            var lastEval = metrics.LastOrDefault(m => m.EvalLoss is not null);
            var tps = metrics.LastOrDefault(m => m.TokensPerSecond is not null)?.TokensPerSecond;
            sb.Append(CultureInfo.InvariantCulture,
                $"| {name} | {last.Step} | {last.Tokens:N0} | {Fmt(lastLoss, "F4")} | {Fmt(lastEval?.EvalLoss, "F4")} | {Fmt(lastEval?.EvalPerplexity ?? (lastEval?.EvalLoss is { } e ? Math.Exp(e) : null), "F2")} | {Fmt(tps, "N0")} |\n");
        }
        foreach (var dir in runDirs)
        {
            var png = Path.Combine(dir, LossPlotName);
            if (!File.Exists(png)) continue;
            var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            sb.Append("\n### ").Append(name).Append("\n\n![loss of ").Append(name).Append("](").Append(Link(reportDir, png)).Append(")\n");
        }
    }

    private static string Fmt(double? x, string format) => x is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "–";

    private static string Link(string reportDir, string target) =>
        Path.GetRelativePath(reportDir, Path.GetFullPath(target)).Replace('\\', '/').Replace(" ", "%20");
}
