using System.Globalization;
using System.Text;
using HybridSharp.IO;

namespace HybridSharp.Eval.Mqar;

/// <summary>The summary files of an MQAR results folder.</summary>
public sealed record MqarReportFiles(string Csv, string Markdown, string? Png);

/// <summary>Best accuracy over learning rates of one (model, d_model, T, K) point.</summary>
public sealed record MqarBest(string Model, string Mixer, bool Mlp, int DModel, int SeqLen, int NumKvPairs, double Accuracy, double BestLearningRate,
    IReadOnlyList<(double LearningRate, double Accuracy)> ByLearningRate);

/// <summary>
/// Summaries of MQAR results: <c>mqar.csv</c> (one row per model × d_model × T × K with the best accuracy over
/// learning rates), <c>mqar.md</c> (a table: rows model × d_model, columns (T, K)) and <c>mqar.png</c> (accuracy
/// against d_model, one panel per (T, K), one line per model — the layout of Zoology's Figure 2).
/// </summary>
public static class MqarReport
{
    public const string CsvName = "mqar.csv";
    public const string MarkdownName = "mqar.md";
    public const string PngName = "mqar.png";

    public static readonly string[] CsvHeader =
        ["model", "mixer", "mlp", "d_model", "seq_len", "num_kv_pairs", "accuracy", "best_lr", "lrs", "accuracy_by_lr"];

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// Max over learning rates per (model, d_model, T, K), sorted by T, K, model, d. A mixture result (one model
    /// trained on every K at its T) contributes one point per test slice, so its best LR is chosen per (T, K) slice.
    /// </summary>
    public static IReadOnlyList<MqarBest> Best(IEnumerable<MqarCellResult> results) =>
        results.SelectMany(r => r.NumKvPairs == MqarCell.MixedPairs
                ? r.Slices.Select(sl => (R: r, T: sl.SeqLen, K: sl.NumKvPairs, Accuracy: sl.Accuracy))
                : [(R: r, T: r.SeqLen, K: r.NumKvPairs, Accuracy: r.Accuracy)])
            .GroupBy(p => (p.R.ModelLabel, p.R.Mixer, p.R.Mlp, p.R.DModel, p.T, p.K))
            .Select(g =>
            {
                // Several seeds: a rate's accuracy is its mean over the seeds, so the best rate is not a lucky seed.
                var byLr = g.GroupBy(p => p.R.LearningRate).OrderBy(l => l.Key).Select(l => (LearningRate: l.Key, Accuracy: l.Average(p => p.Accuracy))).ToList();
                var best = byLr.OrderByDescending(x => x.Accuracy).ThenBy(x => x.LearningRate).First();
                return new MqarBest(g.Key.ModelLabel, g.Key.Mixer, g.Key.Mlp, g.Key.DModel, g.Key.T, g.Key.K, best.Accuracy, best.LearningRate, byLr);
            })
            .OrderBy(b => b.SeqLen).ThenBy(b => b.NumKvPairs).ThenBy(b => b.Model, StringComparer.Ordinal).ThenBy(b => b.DModel)
            .ToList();

    /// <summary>Writes the CSV, markdown and (when there is anything to draw) PNG into <paramref name="dir"/>.</summary>
    public static MqarReportFiles WriteAll(string dir, IReadOnlyList<MqarCellResult> results, MqarProtocol? protocol = null)
    {
        Directory.CreateDirectory(dir);
        var best = Best(results);
        var csv = Path.Combine(dir, CsvName);
        var md = Path.Combine(dir, MarkdownName);
        AtomicFile.WriteAllText(csv, ToCsv(best));
        string? png = null;
        if (best.Count > 0)
        {
            png = Path.Combine(dir, PngName);
            WritePlot(best, png);
        }
        AtomicFile.WriteAllText(md, ToMarkdown(best, results, protocol, png is null ? null : PngName));
        return new MqarReportFiles(csv, md, png);
    }

    public static string ToCsv(IReadOnlyList<MqarBest> best)
    {
        var sb = new StringBuilder();
        sb.Append(string.Join(',', CsvHeader)).Append('\n');
        foreach (var b in best)
        {
            string lrs = string.Join(';', b.ByLearningRate.Select(x => Num(x.LearningRate)));
            string byLr = string.Join(';', b.ByLearningRate.Select(x => $"{Num(x.LearningRate)}:{x.Accuracy.ToString("F4", Inv)}"));
            sb.Append(string.Join(',', b.Model, b.Mixer, b.Mlp ? "true" : "false", b.DModel.ToString(Inv), b.SeqLen.ToString(Inv),
                b.NumKvPairs.ToString(Inv), b.Accuracy.ToString("F4", Inv), Num(b.BestLearningRate), lrs, byLr)).Append('\n');
        }
        return sb.ToString();
    }

    public static string ToMarkdown(IReadOnlyList<MqarBest> best, IReadOnlyList<MqarCellResult> results, MqarProtocol? protocol, string? pngName)
    {
        var sb = new StringBuilder();
        sb.Append("# MQAR results\n\n");
        if (protocol is not null)
        {
            string examples = protocol.TrainTokens is { } tt
                ? string.Create(CultureInfo.InvariantCulture, $"{tt:N0} training tokens per model (⌈{tt} / T⌉ examples)")
                : string.Create(CultureInfo.InvariantCulture, $"{protocol.TrainExamples:N0} train examples");
            if (protocol.Mixture)
                sb.Append(CultureInfo.InvariantCulture, $"Protocol: V {protocol.VocabSize}, one model per T trained on a mixture of every K at that T: {examples} per T (split evenly over its K values; batches never mix K) × {protocol.Epochs} epochs, ");
            else
                sb.Append(CultureInfo.InvariantCulture, $"Protocol: V {protocol.VocabSize}, {examples} × {protocol.Epochs} epochs, ");
            if (protocol.BatchTokens is { } bt) sb.Append(CultureInfo.InvariantCulture, $"batch {bt:N0} tokens (⌊{bt} / T⌋ sequences), ");
            sb.Append(CultureInfo.InvariantCulture, $"{protocol.TestExamples:N0} test examples per (T, K)");
            if (protocol.TrainTokens is null) sb.Append(CultureInfo.InvariantCulture, $" — {protocol.ExampleFraction:G3} of the full protocol's 100,000 × 64 training examples");
            sb.Append(' ');
            sb.Append(CultureInfo.InvariantCulture, $"(`{protocol.Tag}`); AdamW wd {protocol.WeightDecay:G3}, cosine per epoch, early stop at accuracy > {protocol.EarlyStopAccuracy:G3}.\n");
        }
        sb.Append("Each cell: test accuracy (mean over examples of the share of recalled values), best over the learning rates tried ");
        sb.Append("(the best LR in parentheses). Models: 2 layers, 1 attention head, \"hybridsharp\" harness.\n");
        if (results.Count > 0) sb.Append("Machine: ").Append(results[^1].Machine).Append('\n');
        sb.Append('\n');
        if (best.Count == 0)
        {
            sb.Append("No results yet.\n");
            return sb.ToString();
        }
        sb.Append(SummaryTable(best));
        if (pngName is not null) sb.Append("\n![MQAR accuracy against d_model](").Append(pngName).Append(")\n");
        if (results.Select(r => r.Seed).Distinct().Count() > 1)
        {
            sb.Append("\n## Seeds\n\n");
            sb.Append("Every (model, d_model, T, K) at its best rate (by the mean over seeds): accuracy per seed, how many seeds reached ");
            sb.Append("0.9, and the training steps after which test accuracy first reached 0.5 and 0.9 (median over the seeds that did; ");
            sb.Append("\"–\" = none did). Curves are evaluated once per epoch.\n\n");
            sb.Append(SeedTable(best, results));
        }
        sb.Append('\n').Append(EveryRunHeading).Append("\n\n");
        sb.Append("Every training run with its accuracy per (T, K) slice, not just the best rate: a rate that missed shows whether ");
        sb.Append("the cell is sensitive to it. Overall = the run's accuracy over all its test examples.\n\n");
        sb.Append(RunsTable(results));
        return sb.ToString();
    }

    /// <summary>
    /// The best-rate summary: one row per (model, d_model), one column per (T, K) slice, each cell the best accuracy over
    /// the learning rates tried with that rate in parentheses ("–" where the model has no result for the slice).
    /// </summary>
    public static string SummaryTable(IReadOnlyList<MqarBest> best)
    {
        if (best.Count == 0) return "";
        var sb = new StringBuilder();
        var tasks = best.Select(b => (b.SeqLen, b.NumKvPairs)).Distinct().OrderBy(x => x.SeqLen).ThenBy(x => x.NumKvPairs).ToList();
        var rows = best.Select(b => (b.Model, b.DModel)).Distinct().OrderBy(x => x.Model, StringComparer.Ordinal).ThenBy(x => x.DModel).ToList();
        sb.Append("| model | d_model |");
        foreach (var (t, k) in tasks) sb.Append(CultureInfo.InvariantCulture, $" T {t}, K {k} |");
        sb.Append("\n|---|---|");
        foreach (var _ in tasks) sb.Append("---|");
        sb.Append('\n');
        var lookup = best.ToDictionary(b => (b.Model, b.DModel, b.SeqLen, b.NumKvPairs));
        foreach (var (model, d) in rows)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {model} | {d} |");
            foreach (var (t, k) in tasks)
                sb.Append(lookup.TryGetValue((model, d, t, k), out var b)
                    ? $" {b.Accuracy.ToString("F3", Inv)} ({Num(b.BestLearningRate)}) |"
                    : " – |");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>
    /// One row per (model, d_model, T, K) at its best rate: accuracy per seed, seeds at ≥ 0.9, and the median steps to
    /// 0.5 and to 0.9 over the seeds that got there. Mixture runs use their overall curve for the steps.
    /// </summary>
    public static string SeedTable(IReadOnlyList<MqarBest> best, IReadOnlyList<MqarCellResult> results)
    {
        var sb = new StringBuilder();
        sb.Append("| model | d_model | T | K | lr | accuracy per seed | mean | seeds ≥ 0.9 | steps to 0.5 | steps to 0.9 |\n");
        sb.Append("|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var b in best)
        {
            var runs = results.Where(r => r.ModelLabel == b.Model && r.DModel == b.DModel && r.LearningRate == b.BestLearningRate
                    && (r.NumKvPairs == MqarCell.MixedPairs ? r.SeqLen == b.SeqLen || r.Slices.Any(sl => sl.SeqLen == b.SeqLen) : r.SeqLen == b.SeqLen && r.NumKvPairs == b.NumKvPairs))
                .OrderBy(r => r.Seed).ToList();
            var accs = runs.Select(r => (r.Seed, Accuracy: r.NumKvPairs == MqarCell.MixedPairs
                ? r.Slices.FirstOrDefault(sl => sl.SeqLen == b.SeqLen && sl.NumKvPairs == b.NumKvPairs)?.Accuracy ?? double.NaN
                : r.Accuracy)).ToList();
            string Steps(double threshold)
            {
                var steps = runs.Select(r => r.StepsTo(threshold)).OfType<int>().Order().ToList();
                return steps.Count == 0 ? "–" : string.Create(Inv, $"{steps[steps.Count / 2]} ({steps.Count}/{runs.Count})");
            }
            sb.Append(CultureInfo.InvariantCulture, $"| {b.Model} | {b.DModel} | {b.SeqLen} | {b.NumKvPairs} | {Num(b.BestLearningRate)} | ");
            sb.Append(string.Join(", ", accs.Select(a => string.Create(Inv, $"{a.Accuracy:F3} (s{a.Seed})"))));
            sb.Append(CultureInfo.InvariantCulture, $" | {accs.Average(a => a.Accuracy):F3} | {accs.Count(a => a.Accuracy >= 0.9)}/{accs.Count} | {Steps(0.5)} | {Steps(0.9)} |\n");
        }
        return sb.ToString();
    }

    /// <summary>Heading of the every-run section of <c>mqar.md</c> (the summary table comes before it).</summary>
    public const string EveryRunHeading = "## Every run";

    /// <summary>
    /// One markdown row per training run — T, model, d_model, learning rate, accuracy per K slice (a per-(T, K) run fills
    /// its own K column, a mixture run every K it was tested on), overall accuracy, steps and wall seconds — sorted by T,
    /// model, d_model and rate. Early-stopped and diverged runs say so after their step count.
    /// </summary>
    public static string RunsTable(IReadOnlyList<MqarCellResult> results)
    {
        static IEnumerable<(int K, double Accuracy)> SlicesOf(MqarCellResult r) =>
            r.Slices.Count > 0 ? r.Slices.Select(sl => (sl.NumKvPairs, sl.Accuracy)) : [(r.NumKvPairs, r.Accuracy)];
        var ks = results.SelectMany(r => SlicesOf(r).Select(x => x.K)).Distinct().Order().ToList();
        var sb = new StringBuilder();
        bool seeds = results.Select(r => r.Seed).Distinct().Count() > 1;
        sb.Append(seeds ? "| T | model | d_model | lr | seed |" : "| T | model | d_model | lr |");
        foreach (var k in ks) sb.Append(CultureInfo.InvariantCulture, $" K {k} |");
        sb.Append(" overall | steps | seconds |\n|---|---|---|---|");
        if (seeds) sb.Append("---|");
        foreach (var _ in ks) sb.Append("---|");
        sb.Append("---|---|---|\n");
        var ordered = results.OrderBy(r => r.SeqLen).ThenBy(r => r.ModelLabel, StringComparer.Ordinal).ThenBy(r => r.DModel)
            .ThenBy(r => r.LearningRate).ThenBy(r => r.NumKvPairs).ThenBy(r => r.Seed);
        foreach (var r in ordered)
        {
            var byK = SlicesOf(r).ToDictionary(x => x.K, x => x.Accuracy);
            sb.Append(CultureInfo.InvariantCulture, $"| {r.SeqLen} | {r.ModelLabel} | {r.DModel} | {Num(r.LearningRate)} |");
            if (seeds) sb.Append(CultureInfo.InvariantCulture, $" {r.Seed} |");
            foreach (var k in ks) sb.Append(byK.TryGetValue(k, out var a) ? $" {a.ToString("F3", Inv)} |" : " – |");
            string steps = r.Steps.ToString(Inv) + (r.Diverged ? " (diverged)" : r.EarlyStopped ? " (early stop)" : "");
            sb.Append(CultureInfo.InvariantCulture, $" {r.Accuracy:F3} | {steps} | {r.Seconds:F0} |\n");
        }
        return sb.ToString();
    }

    /// <summary>Accuracy against d_model (log₂ axis), one panel per (T, K), one line per model; PNG via temp + rename.</summary>
    public static void WritePlot(IReadOnlyList<MqarBest> best, string pngPath)
    {
        var tasks = best.Select(b => (b.SeqLen, b.NumKvPairs)).Distinct().OrderBy(x => x.SeqLen).ThenBy(x => x.NumKvPairs).ToList();
        var models = best.Select(b => b.Model).Distinct().Order(StringComparer.Ordinal).ToList();
        var dModels = best.Select(b => b.DModel).Distinct().Order().ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        var plots = new List<ScottPlot.Plot>();
        foreach (var (t, k) in tasks)
        {
            var plot = new ScottPlot.Plot();
            for (int m = 0; m < models.Count; m++)
            {
                var pts = best.Where(b => b.Model == models[m] && b.SeqLen == t && b.NumKvPairs == k).OrderBy(b => b.DModel).ToList();
                if (pts.Count == 0) continue;
                var s = plot.Add.Scatter(pts.Select(b => Math.Log2(b.DModel)).ToArray(), pts.Select(b => b.Accuracy).ToArray());
                s.LegendText = models[m];
                s.Color = palette.GetColor(m);
                s.LineWidth = 2;
                s.MarkerSize = 7;
            }
            plot.Title(string.Create(CultureInfo.InvariantCulture, $"T = {t}, K = {k}"));
            plot.XLabel("d_model");
            plot.YLabel("accuracy");
            plot.Axes.Bottom.SetTicks(dModels.Select(d => Math.Log2(d)).ToArray(), dModels.Select(d => d.ToString(Inv)).ToArray());
            double lo = Math.Log2(dModels[0]), hi = Math.Log2(dModels[^1]);
            double pad = Math.Max(0.25, (hi - lo) * 0.1);
            plot.Axes.SetLimits(lo - pad, hi + pad, -0.02, 1.02);
            plot.ShowLegend(ScottPlot.Edge.Right);
            plots.Add(plot);
        }

        var tmp = pngPath + ".tmp.png";
        int cols = Math.Min(plots.Count, tasks.Select(x => x.NumKvPairs).Distinct().Count() is var c && c > 1 && c <= 4 ? c : Math.Min(plots.Count, 3));
        cols = Math.Max(1, cols);
        int rows = (plots.Count + cols - 1) / cols;
        if (plots.Count == 1)
        {
            plots[0].SavePng(tmp, 720, 420);
        }
        else
        {
            var multi = new ScottPlot.Multiplot();
            while (multi.Subplots.Count > 0) multi.Subplots.RemoveAt(0);
            foreach (var p in plots) multi.Subplots.Add(p);
            multi.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, cols);
            ScottPlot.IMultiplotExtensions.SavePng(multi, tmp, 600 * cols, 360 * rows);
        }
        File.Move(tmp, pngPath, overwrite: true);
    }

    private static string Num(double x) => x.ToString("G3", Inv);
}
