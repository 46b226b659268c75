using HybridSharp.Eval.Mqar;
using HybridSharp.Training;
using Xunit;

namespace HybridSharp.Tests.Mqar;

public sealed class MqarReportTests
{
    private static MqarCellResult R(string mixer, int d, int t, int k, double lr, double acc, bool mlp = false) => new()
    {
        Key = $"{mixer}-{d}-{t}-{k}-{lr}-{mlp}", Mixer = mixer, DModel = d, Mlp = mlp, SeqLen = t, NumKvPairs = k, LearningRate = lr,
        Accuracy = acc, Protocol = "p", Machine = "test machine",
    };

    private static readonly MqarCellResult[] Results =
    [
        R("attention", 64, 128, 8, 1e-3, 0.97), R("attention", 64, 128, 8, 1e-2, 0.99),
        R("ssd", 64, 128, 8, 1e-3, 0.41), R("ssd", 64, 128, 8, 1e-2, 0.12),
        R("ssd", 128, 128, 8, 1e-3, 0.55), R("ssd", 64, 256, 16, 1e-3, 0.2),
        R("attention", 64, 128, 8, 1e-3, 0.5, mlp: true),
    ];

    [Fact]
    public void BestKeepsTheMaximumOverLearningRates()
    {
        var best = MqarReport.Best(Results);
        Assert.Equal(5, best.Count);
        var att = best.Single(b => b.Model == "attention" && b.DModel == 64);
        Assert.Equal((0.99, 1e-2), (att.Accuracy, att.BestLearningRate));
        Assert.Equal(2, att.ByLearningRate.Count);
        Assert.Equal(0.41, best.Single(b => b.Model == "ssd" && b.DModel == 64 && b.SeqLen == 128).Accuracy);
        Assert.Contains(best, b => b.Model == "attention+mlp");
    }

    [Fact]
    public void CsvMarkdownAndPngHaveTheExpectedShape()
    {
        using var tmp = new TempDir();
        var files = MqarReport.WriteAll(tmp.Path, Results, MqarProtocol.FromBudget(0.04));
        var csv = File.ReadAllLines(files.Csv);
        Assert.Equal("model,mixer,mlp,d_model,seq_len,num_kv_pairs,accuracy,best_lr,lrs,accuracy_by_lr", csv[0]);
        Assert.Equal(1 + 5, csv.Length);
        Assert.All(csv, l => Assert.Equal(10, l.Split(',').Length));
        Assert.Contains("attention,attention,false,64,128,8,0.9900,0.01,0.001;0.01,0.001:0.9700;0.01:0.9900", csv);

        var md = File.ReadAllText(files.Markdown);
        Assert.Contains("85,333 train examples × 3 epochs, 3,000 test examples", md);
        var table = md.Split('\n').TakeWhile(l => l != MqarReport.EveryRunHeading).Where(l => l.StartsWith('|')).ToList();
        Assert.Equal("| model | d_model | T 128, K 8 | T 256, K 16 |", table[0]);
        Assert.Equal(2 + 4, table.Count);                       // header, rule, 4 (model, d) rows
        Assert.Contains("| ssd | 64 | 0.410 (0.001) | 0.200 (0.001) |", table);
        Assert.Contains("| ssd | 128 | 0.550 (0.001) | – |", table);
        Assert.Contains("](mqar.png)", md);
        Assert.Contains(MqarReport.SummaryTable(MqarReport.Best(Results)), md);   // the page embeds the summary verbatim
        Assert.Equal("", MqarReport.SummaryTable([]));

        // Every run, not just the best rate: the losing rates stay visible, each in its own K column.
        var runs = md.Split('\n').SkipWhile(l => l != MqarReport.EveryRunHeading).Where(l => l.StartsWith('|')).ToList();
        Assert.Equal("| T | model | d_model | lr | K 8 | K 16 | overall | steps | seconds |", runs[0]);
        Assert.Equal(2 + Results.Length, runs.Count);
        Assert.Contains("| 128 | ssd | 64 | 0.01 | 0.120 | – | 0.120 | 0 | 0 |", runs);
        Assert.Contains("| 256 | ssd | 64 | 0.001 | – | 0.200 | 0.200 | 0 | 0 |", runs);
        Assert.StartsWith("| 128 | attention | 64 | 0.001 | 0.970 |", runs[2]);      // sorted by T, model, d, rate
        Assert.StartsWith("| 256 |", runs[^1]);

        var png = File.ReadAllBytes(files.Png!);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp*"));
    }

    [Fact]
    public void BudgetScalesExamplesProcessedPreferringDistinctExamples()
    {
        var full = MqarProtocol.FromBudget(1);
        Assert.Equal((100_000, 64, 3_000), (full.TrainExamples, full.Epochs, full.TestExamples));
        var cpu = MqarProtocol.FromBudget(0.04);
        Assert.Equal((85_333, 3, 3_000), (cpu.TrainExamples, cpu.Epochs, cpu.TestExamples));
        Assert.Equal((64_000, 1), (MqarProtocol.FromBudget(0.01).TrainExamples, MqarProtocol.FromBudget(0.01).Epochs));
        Assert.Equal((100_000, 32), (MqarProtocol.FromBudget(0.5).TrainExamples, MqarProtocol.FromBudget(0.5).Epochs));
        Assert.Equal((512, 256, 128), (cpu.BatchSizeFor(128), cpu.BatchSizeFor(256), cpu.BatchSizeFor(512)));
        Assert.Throws<ArgumentException>(() => MqarProtocol.FromBudget(0));
        Assert.Throws<ArgumentException>(() => MqarProtocol.FromBudget(1.5));
    }

    [Fact]
    public void ReportCollectsMqarFoldersAndRuns()
    {
        using var tmp = new TempDir();
        var mqar = Path.Combine(tmp.Path, "results", "mqar");
        var store = new MqarResultStore(mqar);
        foreach (var r in Results) store.Append(r);
        MqarReport.WriteAll(mqar, Results);
        var run = Path.Combine(tmp.Path, "runs", "tiny");
        Directory.CreateDirectory(run);
        var log = new MetricsLog(Path.Combine(run, ResultsReport.MetricsFileName));
        log.Append(new TrainingMetric { Step = 10, Loss = 2.5, Tokens = 1000, TokensPerSecond = 500 });
        log.Append(new TrainingMetric { Step = 20, Loss = 2.0, Tokens = 2000, EvalLoss = 2.1, EvalPerplexity = Math.Exp(2.1) });
        File.WriteAllBytes(Path.Combine(run, ResultsReport.LossPlotName), [0x89, 0x50]);

        var text = ResultsReport.Write(Path.Combine(tmp.Path, "report.md"), [mqar], [run]);
        Assert.Equal(text, File.ReadAllText(Path.Combine(tmp.Path, "report.md")));
        Assert.Contains("## MQAR: results/mqar", text);
        Assert.Contains("| ssd | 64 | 0.410 (0.001) | 0.200 (0.001) |", text);
        Assert.Contains(MqarReport.SummaryTable(MqarReport.Best(Results)), text);
        Assert.DoesNotContain(MqarReport.EveryRunHeading, text);
        Assert.Contains("![MQAR accuracy against d_model](results/mqar/mqar.png)", text);
        Assert.Contains("| tiny | 20 | 2,000 | 2.0000 | 2.1000 | 8.17 | 500 |", text);
        Assert.Contains("![loss of tiny](runs/tiny/loss.png)", text);
        Assert.Throws<DirectoryNotFoundException>(() => ResultsReport.Build(tmp.Path, [Path.Combine(tmp.Path, "nope")], []));
    }

    private static MqarCellResult Mix(string mixer, double lr, params (int K, double Acc)[] slices) => new()
    {
        Key = $"{mixer}-mix-{lr}", Mixer = mixer, DModel = 64, SeqLen = 128, NumKvPairs = MqarCell.MixedPairs, LearningRate = lr,
        Accuracy = slices.Average(x => x.Acc), Protocol = "pm", Machine = "test machine", TrainExamples = 76_800, TestExamples = 3_000,
        MaxEpochs = 1, Slices = [.. slices.Select(x => new MqarSliceAccuracy { SeqLen = 128, NumKvPairs = x.K, Accuracy = x.Acc, Examples = 1000 })],
    };

    [Fact]
    public void MixtureResultsArePerSliceWithTheBestRatePerSlice()
    {
        // lr 1e-3 is better at K 8, lr 1e-2 at K 32: each slice keeps its own best rate.
        MqarCellResult[] mix = [Mix("attention", 1e-3, (8, 0.9), (16, 0.5), (32, 0.1)), Mix("attention", 1e-2, (8, 0.6), (16, 0.5), (32, 0.3))];
        var best = MqarReport.Best(mix);
        Assert.Equal([8, 16, 32], best.Select(b => b.NumKvPairs));
        Assert.Equal((0.9, 1e-3), (best[0].Accuracy, best[0].BestLearningRate));
        Assert.Equal((0.3, 1e-2), (best[2].Accuracy, best[2].BestLearningRate));
        Assert.All(best, b => Assert.Equal(2, b.ByLearningRate.Count));

        var md = MqarReport.ToMarkdown(best, mix, new MqarProtocol { Mixture = true, TrainTokens = 9_830_400, BatchTokens = 16_384 }, null);
        Assert.Contains("| attention | 64 | 0.900 (0.001) | 0.500 (0.001) | 0.300 (0.01) |", md);
        Assert.Contains("one model per T trained on a mixture of every K", md);
        Assert.Contains("9,830,400 training tokens per model", md);
        Assert.Contains("| 128 | attention | 64 | 0.01 | 0.600 | 0.500 | 0.300 | 0.467 | 0 | 0 |", md);

        using var tmp = new TempDir();
        var store = new MqarResultStore(tmp.Path);
        foreach (var r in mix) store.Append(r);
        var page = ResultsReport.Build(tmp.Path, [tmp.Path], []);
        Assert.Contains("one model per T on a mixture of its K values", page);
        Assert.Contains("| attention | 64 | 0.900 (0.001) | 0.500 (0.001) | 0.300 (0.01) |", page);
        Assert.DoesNotContain("| 128 | attention | 64 | 0.01 |", page);   // the report page keeps the summary only
    }
}
