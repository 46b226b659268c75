using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using HybridSharp.Models;
using HybridSharp.Tasks;
using HybridSharp.Tests.Models;
using HybridSharp.Training;
using Xunit;

namespace HybridSharp.Tests.Training;

[Collection("Torch")]
public sealed class TrainerTests
{
    internal static CausalLM TinyModel(long seed = 1)
    {
        var cfg = TinyModels.Transformer();
        cfg.VocabSize = 261;
        return new CausalLM(cfg, seed);
    }

    internal static void BuildArithmeticData(string dir, int problems)
    {
        var tok = new ByteTokenizer();
        new CorpusBuilder(tok, new CorpusBuilderOptions { ValidationFraction = 0.1, Seed = 3 })
            .AddDocuments(ArithmeticCorpus.Documents(tok, problems, 5, 1, 2, SolutionStyle.Concise))
            .Build(dir);
    }

    private static TrainerOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 4, SeqLen = 32, LearningRate = 1e-2, MinLearningRate = 1e-3, WarmupSteps = 2,
        EvalEvery = 0, CheckpointEvery = 0, LogEvery = 1, Seed = 11, GradAccumulation = 2,
    };

    [Fact]
    public void OverfitsATinyCorpus()
    {
        using var tmp = new TempDir();
        var tok = new ByteTokenizer();
        // a single repeated document: the model must memorise it
        new CorpusBuilder(tok, new CorpusBuilderOptions { ValidationFraction = 0.5, Seed = 1 })
            .AddDocuments(Enumerable.Repeat("the cat sat on the mat. ", 40))
            .Build(tmp["data"]);
        using var data = TokenDataset.Open(tmp["data"]);
        using var model = TinyModel();
        var result = new Trainer(model, data, Options(150) with { GradAccumulation = 1, LearningRate = 2e-2 }, tmp["run"]).Run(resume: false);
        Assert.True(result.Completed);
        Assert.True(result.Losses[0] > 4.0, $"initial loss {result.Losses[0]}");
        Assert.True(result.Losses[^1] < 0.5, $"final loss {result.Losses[^1]}");
        Assert.True(File.Exists(Path.Combine(tmp["run"], Trainer.MetricsFileName)));
        Assert.True(File.Exists(Path.Combine(tmp["run"], Trainer.LossPlotFileName)));
    }

    [Fact]
    public void InterruptedAndResumedRunReproducesTheUninterruptedLosses()
    {
        using var tmp = new TempDir();
        BuildArithmeticData(tmp["data"], 300);
        using var data = TokenDataset.Open(tmp["data"]);

        using var a = TinyModel(seed: 5);
        var full = new Trainer(a, data, Options(10), tmp["a"]).Run(resume: false);

        using var b = TinyModel(seed: 5);
        var first = new Trainer(b, data, Options(10) with { StopAfterSteps = 4 }, tmp["b"]).Run(resume: false);
        Assert.False(first.Completed);
        Assert.Equal(4, first.FinalStep);

        using var c = TinyModel(seed: 99); // different init: everything must come from the checkpoint
        var rest = new Trainer(c, data, Options(10), tmp["b"]).Run(resume: true);
        Assert.True(rest.Completed);

        var resumed = first.Losses.Concat(rest.Losses).ToArray();
        Assert.Equal(full.Losses.Count, resumed.Length);
        for (int i = 0; i < resumed.Length; i++)
            Assert.True(Math.Abs(full.Losses[i] - resumed[i]) <= 1e-6, $"step {i + 1}: {full.Losses[i]} vs {resumed[i]}");
        // the metrics log holds each step once
        var steps = MetricsLog.Read(Path.Combine(tmp["b"], Trainer.MetricsFileName)).Select(m => m.Step).ToArray();
        Assert.Equal(Enumerable.Range(1, 10), steps);
    }

    [Fact]
    public void ResumeWithDifferentSettingsIsRejected()
    {
        using var tmp = new TempDir();
        BuildArithmeticData(tmp["data"], 100);
        using var data = TokenDataset.Open(tmp["data"]);
        using var m = TinyModel();
        new Trainer(m, data, Options(6) with { StopAfterSteps = 2 }, tmp["r"]).Run(resume: false);
        var ex = Assert.Throws<ArgumentException>(() => new Trainer(m, data, Options(8), tmp["r"]).Run(resume: true));
        Assert.Contains("same settings", ex.Message);
    }

    [Fact]
    public void SchedulesHitTheirAnchors()
    {
        var cos = new LearningRateSchedule("cosine", 1.0, 0.1, 10, 110);
        Assert.Equal(0.1, cos.At(0), 9);
        Assert.Equal(1.0, cos.At(9), 9);
        Assert.Equal(1.0, cos.At(10), 9);
        Assert.Equal(0.1, cos.At(109), 9);
        Assert.True(cos.At(60) < 0.6 && cos.At(60) > 0.5);
        var wsd = new LearningRateSchedule("wsd", 1.0, 0.0, 10, 100, 0.2);
        Assert.Equal(1.0, wsd.At(50));
        Assert.Equal(1.0, wsd.At(79));
        Assert.Equal(0.0, wsd.At(99), 9);
        Assert.True(wsd.At(90) is > 0.4 and < 0.6);
    }
}
