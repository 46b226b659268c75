using System.Diagnostics;
using HybridSharp.Eval.Mqar;
using HybridSharp.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Mqar;

[Collection("Torch")]
public sealed class MqarRunnerTests(ITestOutputHelper output)
{
    private static MqarProtocol Tiny(int train = 64, int test = 32, int epochs = 1, int batch = 32) => new()
    {
        VocabSize = 256, TrainExamples = train, TestExamples = test, Epochs = epochs, BatchSize = batch, Seed = 3,
    };

    [Fact]
    public void TwoLayerAttentionLearnsASmallRecallTask()
    {
        // T 32, K 4, d 64, one head, no FFN. A small vocabulary (V 64) rules out memorising key→value bindings and makes
        // the in-context solution appear sooner; batch 256 because small batches stay much longer on the 1/K plateau
        // (every context value equally likely). Solved after ≈ 120–150 steps; at most 300. One thread: 2 threads on a
        // busy 2-core machine crawl.
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            var protocol = new MqarProtocol { VocabSize = 64, TrainExamples = 256 * 50, TestExamples = 256, Epochs = 6, BatchSize = 256, Seed = 1 };
            var (train, test) = MqarRunner.GenerateTask(protocol, 32, 4);
            var clock = Stopwatch.StartNew();
            var cell = new MqarCell(MqarModels.Attention, 64, false, 32, 4, 3e-3);
            var result = MqarRunner.TrainCell(cell, protocol, train, test, p =>
            {
                if (p.Event == MqarEvent.Epoch) output.WriteLine($"epoch {p.Epoch} step {p.Step} loss {p.Loss:F3} accuracy {p.Accuracy:F3} {clock.Elapsed.TotalSeconds:F1} s");
            });
            output.WriteLine($"accuracy {result.Accuracy:F3} after {result.Steps} steps, {result.Seconds:F1} s");
            Assert.True(result.Accuracy >= 0.9, $"accuracy {result.Accuracy}");
            Assert.Single(result.Slices);
            Assert.Equal((32, 4, 256), (result.Slices[0].SeqLen, result.Slices[0].NumKvPairs, result.Slices[0].Examples));
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    [Fact]
    public void GatheredLossEqualsFullLogitLossWithIgnoreIndex()
    {
        var protocol = Tiny();
        var (train, _) = MqarRunner.GenerateTask(protocol, 32, 4);
        using var model = new CausalLM(MqarModels.Build(MqarModels.Hybrid, 32, mlp: true, vocabSize: 256, maxSeqLen: 32), seed: 2);
        using var scope = NewDisposeScope();
        var (x, y) = train.Batch(0, 8);
        double gathered = MqarRunner.LabelledLoss(model, x, y).item<float>();
        double full = model.Loss(x, y).item<float>();
        Assert.Equal(full, gathered, 4);
    }

    [Fact]
    public void ModelsBuildForEveryMixer()
    {
        foreach (var mixer in MqarModels.Mixers.Append("dma-w16"))
            foreach (bool mlp in new[] { false, true })
            {
                var cfg = MqarModels.Build(mixer, 64, mlp, 8192, 512);
                Assert.Equal(2, cfg.NumHiddenLayers);
                Assert.Equal(8192, cfg.VocabSize);
                Assert.All(cfg.MlpTypes!, t => Assert.Equal(mlp ? "mlp" : "none", t));
                using var model = new CausalLM(cfg);
                using var scope = NewDisposeScope();
                var h = model.ForwardHidden(randint(8192, [2, 32]));
                Assert.Equal(new long[] { 2, 32, 64 }, h.shape);
            }
        Assert.Equal(["ssd", "attention"], MqarModels.Build(MqarModels.Hybrid, 128, false).LayerTypes);
        Assert.True(MqarModels.Build(MqarModels.Ssd, 128, false).Ssd!.Rope);
        Assert.False(MqarModels.Build(MqarModels.SsdNoRope, 128, false).Ssd!.Rope);
        var ssm = MqarModels.Build(MqarModels.Ssd, 128, false).Ssd!;
        Assert.Equal((1, 0, false, 128), (ssm.Expand, ssm.ConvKernel, ssm.Gated, ssm.StateSize));
        Assert.Equal(16, MqarModels.Build("dma-w16", 64, false).Dma!.KeepWindowSize);
        Assert.Throws<ArgumentException>(() => MqarModels.Build("mamba", 64, false));
    }

    [Fact]
    public void RerunSkipsFinishedCellsAndWritesSummaries()
    {
        using var tmp = new TempDir();
        var sweep = new MqarSweep([MqarModels.Attention], [16], [16, 32], [2, 8], [1e-3, 3e-3]);
        // (16, 8) violates 4K ≤ T and is left out: 3 tasks × 2 LRs.
        Assert.Equal(3, sweep.Tasks(256).Count);
        var protocol = Tiny(train: 32, test: 16, epochs: 1, batch: 16);
        var events = new List<MqarProgress>();
        var first = new MqarRunner(tmp.Path).RunSweep(sweep, protocol, events.Add);
        Assert.Equal((6, 0, false), (first.Trained, first.Skipped, first.Interrupted));
        Assert.Equal(6, events.Count(e => e.Event == MqarEvent.CellFinished));
        Assert.Equal(6, File.ReadAllLines(tmp[MqarResultStore.FileName]).Length);
        // Each cell's curves are in TensorBoard: one run folder per cell with its epoch accuracy.
        var boards = Directory.GetDirectories(tmp[HybridSharp.Training.MetricsLog.TensorBoardDirName]);
        Assert.Equal(6, boards.Length);
        var accuracy = events.First(e => e.Event == MqarEvent.Epoch);
        var scalars = Directory.GetFiles(Path.Combine(tmp[HybridSharp.Training.MetricsLog.TensorBoardDirName], accuracy.Cell!.Tag + "-" + protocol.Tag), "events.out.tfevents.*")
            .SelectMany(HybridSharp.Tests.Training.TensorBoardTests.ReadScalars).ToList();
        Assert.Equal((float)accuracy.Accuracy!.Value, Assert.Single(scalars, x => x.Tag == "epoch/test_accuracy").Value);

        events.Clear();
        var again = new MqarRunner(tmp.Path).RunSweep(sweep, protocol, events.Add);
        Assert.Equal((0, 6), (again.Trained, again.Skipped));
        Assert.DoesNotContain(events, e => e.Event == MqarEvent.CellStarted);
        Assert.Equal(6, File.ReadAllLines(tmp[MqarResultStore.FileName]).Length);

        // A different protocol (here: the seed) is a different cell; a torn line from a crash is ignored.
        File.AppendAllText(tmp[MqarResultStore.FileName], "{\"key\":\"torn");
        var other = new MqarRunner(tmp.Path).RunSweep(sweep with { LearningRates = [1e-3], SeqLens = [16], Pairs = [2] }, protocol with { Seed = 4 });
        Assert.Equal(1, other.Trained);
        Assert.Equal(7, new MqarResultStore(tmp.Path).Count);

        var csv = File.ReadAllLines(tmp[MqarReport.CsvName]);
        Assert.Equal(string.Join(',', MqarReport.CsvHeader), csv[0]);
        Assert.True(File.Exists(tmp[MqarReport.MarkdownName]));
        Assert.True(File.Exists(tmp[MqarReport.PngName]));
    }

    [Fact]
    public void CancelledSweepStoresOnlyFinishedCells()
    {
        using var tmp = new TempDir();
        var sweep = new MqarSweep([MqarModels.Attention], [16], [16], [2], [1e-3, 3e-3]);
        using var cts = new CancellationTokenSource();
        var outcome = new MqarRunner(tmp.Path).RunSweep(sweep, Tiny(train: 32, test: 16, batch: 16), p =>
        {
            if (p.Event == MqarEvent.Step && p.CellIndex == 1) cts.Cancel();
        }, cts.Token);
        Assert.True(outcome.Interrupted);
        Assert.Equal(1, outcome.Trained);
        Assert.Equal(1, new MqarResultStore(tmp.Path).Count);
    }

    [Fact]
    public void BatchPlanTakesSegmentsInTurnAndNeverMixesThem()
    {
        var plan = MqarRunner.BatchPlan([5, 3], 2);
        Assert.Equal([(0, 0, 2), (1, 0, 2), (0, 2, 2), (1, 2, 1), (0, 4, 1)], plan);
        // Every example of every segment exactly once.
        Assert.Equal(5, plan.Where(b => b.Segment == 0).Sum(b => b.Count));
        Assert.Equal(3, plan.Where(b => b.Segment == 1).Sum(b => b.Count));
        Assert.Equal([(0, 0, 4)], MqarRunner.BatchPlan([4], 8));
        Assert.Throws<ArgumentException>(() => MqarRunner.BatchPlan([4], 0));
    }

    [Fact]
    public void BatchTokensKeepTokensPerStepAndExcludeAFixedBatch()
    {
        var p = new MqarProtocol { BatchTokens = 16384 };
        Assert.Equal((128, 64, 32), (p.BatchSizeFor(128), p.BatchSizeFor(256), p.BatchSizeFor(512)));
        Assert.Equal(1, new MqarProtocol { BatchTokens = 10 }.BatchSizeFor(512));
        Assert.Throws<ArgumentException>(() => (p with { BatchSize = 64 }).Validate());
        Assert.Throws<ArgumentException>(() => new MqarProtocol { BatchTokens = 0 }.Validate());
        Assert.NotEqual(p.Tag, (p with { Mixture = true }).Tag);
        Assert.NotEqual(p.Tag, new MqarProtocol().Tag);

        var t = new MqarProtocol { TrainTokens = 1000, TrainExamples = 7 };
        Assert.Equal((8, 4, 2), (t.TrainExamplesFor(128), t.TrainExamplesFor(256), t.TrainExamplesFor(512))); // ⌈1000 / T⌉
        Assert.Equal(7, new MqarProtocol { TrainExamples = 7 }.TrainExamplesFor(512));
        Assert.NotEqual(t.Tag, (t with { TrainTokens = null }).Tag);
        Assert.Throws<ArgumentException>(() => new MqarProtocol { TrainTokens = 0 }.Validate());
        var (train, _) = MqarRunner.GenerateTask(new MqarProtocol { VocabSize = 256, TrainTokens = 100, TestExamples = 4 }, 32, 4);
        Assert.Equal(4, train.Count);
    }

    [Fact]
    public void MixtureTrainsOneModelPerLengthAndReportsEveryPairCountSlice()
    {
        using var tmp = new TempDir();
        // T 32: K 2, 4, 8 valid; T 16: K 2, 4 (8 violates 4K ≤ T).
        var sweep = new MqarSweep([MqarModels.Attention], [16], [16, 32], [2, 4, 8], [1e-3, 3e-3]);
        var cells = sweep.Cells(256, mixture: true);
        Assert.Equal(4, cells.Count);
        Assert.All(cells, c => Assert.True(c.IsMixture));
        Assert.Equal([16, 16, 32, 32], cells.Select(c => c.SeqLen));
        Assert.Equal([2, 4, 8], sweep.PairsAt(32, 256));

        var protocol = Tiny(train: 30, test: 8, batch: 8) with { Mixture = true };
        var outcome = new MqarRunner(tmp.Path).RunSweep(sweep, protocol);
        Assert.Equal(4, outcome.Trained);
        var r = outcome.Results.Single(x => x.SeqLen == 32 && x.LearningRate == 1e-3);
        Assert.Contains("Kmix", r.Key);
        Assert.EndsWith("-mix", r.Protocol);
        Assert.Equal([2, 4, 8], r.Slices.Select(s => s.NumKvPairs));
        Assert.All(r.Slices, s => Assert.Equal((32, 8), (s.SeqLen, s.Examples)));
        Assert.Equal(30, r.TrainExamples);                               // 3 segments of ⌈30 / 3⌉ = 10
        Assert.Equal(6, r.Steps);                                        // 2 batches (8 + 2) per segment
        Assert.Equal(r.Slices.Average(s => s.Accuracy), r.Accuracy, 12); // equal slices: overall = mean of slices

        // The summaries have one point per (T, K) slice, each the best over the two learning rates.
        var best = MqarReport.Best(outcome.Results);
        Assert.Equal(5, best.Count);
        var k4 = best.Single(b => b.SeqLen == 32 && b.NumKvPairs == 4);
        Assert.Equal(2, k4.ByLearningRate.Count);
        Assert.Equal(outcome.Results.Where(x => x.SeqLen == 32).Max(x => x.Slices.Single(s => s.NumKvPairs == 4).Accuracy), k4.Accuracy);
        Assert.Contains("T 32, K 8", File.ReadAllText(tmp[MqarReport.MarkdownName]));

        // Same data as the per-(T, K) layout: a mixture's K slice tests on that task's own test set.
        var (_, test) = MqarRunner.GenerateMixture(protocol, 32, [4]);
        var (_, own) = MqarRunner.GenerateTask(protocol, 32, 4);
        Assert.Equal(own.Inputs, test[0].Inputs);
    }
}

[Collection("Torch")]
public sealed class MqarSeedsTests
{
    [Fact]
    public void SeveralSeedsRecordCurvesAndAReportPerSeed()
    {
        using var tmp = new HybridSharp.Tests.TempDir();
        string[] grid = ["mqar", "--mixers", "attention", "--d-models", "16", "--seq-lens", "16", "--pairs", "2", "--lrs", "3e-3",
            "--vocab", "64", "--train-tokens", "512", "--batch-tokens", "128", "--epochs", "3", "--test-examples", "8", "--seed", "0,1", "--out", tmp["m"]];
        var (code, _, err) = HybridSharp.Tests.Cli.HybridProcess.Run(grid);
        Assert.True(code == 0, err);
        var results = new HybridSharp.Eval.Mqar.MqarResultStore(tmp["m"]).All;
        Assert.Equal([0L, 1L], results.Select(r => r.Seed).Order().ToArray());
        foreach (var r in results)
        {
            Assert.Equal(r.EpochsRun, r.Curve.Count);
            Assert.Equal(r.Steps, r.Curve[^1].Step);
            Assert.Equal(r.Accuracy, r.Curve[^1].Accuracy);
            Assert.True(r.Curve.Select(p => p.Step).SequenceEqual(r.Curve.Select(p => p.Step).Order()));
        }
        var md = File.ReadAllText(Path.Combine(tmp["m"], "mqar.md"));
        Assert.Contains("## Seeds", md);
        Assert.Contains("(s0)", md);
        Assert.Contains("(s1)", md);
        // A rerun trains nothing: both seeds' cells are already there.
        var (again, output, againErr) = HybridSharp.Tests.Cli.HybridProcess.Run(grid);
        Assert.True(again == 0, againErr);
        Assert.Equal(2, new HybridSharp.Eval.Mqar.MqarResultStore(tmp["m"]).All.Count);
        var (bad, _, badErr) = HybridSharp.Tests.Cli.HybridProcess.Run([.. grid[..^4], "--seed", "0,x", "--out", tmp["m"]]);
        HybridSharp.Tests.Cli.HybridProcess.AssertOneLineError(bad, badErr, "--seed: 'x' is not a valid value");
    }

    [Fact]
    public void StepsToAThresholdComeFromTheCurve()
    {
        var r = new HybridSharp.Eval.Mqar.MqarCellResult
        {
            Curve = [new() { Epoch = 1, Step = 10, Accuracy = 0.2 }, new() { Epoch = 2, Step = 20, Accuracy = 0.6 }, new() { Epoch = 3, Step = 30, Accuracy = 0.95 }],
        };
        Assert.Equal(20, r.StepsTo(0.5));
        Assert.Equal(30, r.StepsTo(0.9));
        Assert.Null(r.StepsTo(0.99));
    }
}
