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
        Assert.True(MqarModels.Build(MqarModels.Ssd, 128, false).Ssm!.Rope);
        Assert.False(MqarModels.Build(MqarModels.SsdNoRope, 128, false).Ssm!.Rope);
        var ssm = MqarModels.Build(MqarModels.Ssd, 128, false).Ssm!;
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
}
