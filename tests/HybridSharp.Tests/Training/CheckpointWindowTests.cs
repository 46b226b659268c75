using HybridSharp.Data.Corpus;
using HybridSharp.Training;
using Xunit;

namespace HybridSharp.Tests.Training;

/// <summary>
/// A kill at any point of the checkpoint rotation leaves a run that resumes bit-exactly from its newest complete
/// checkpoint: each intermediate state of the folders is arranged by hand and resumed.
/// </summary>
[Collection("Torch")]
public sealed class CheckpointWindowTests
{
    private static TrainerOptions Options(int stopAfter = 0) => new()
    {
        Steps = 6, BatchSize = 4, SeqLen = 32, LearningRate = 1e-2, MinLearningRate = 1e-3, WarmupSteps = 1,
        EvalEvery = 0, CheckpointEvery = 0, LogEvery = 1, Seed = 11, StopAfterSteps = stopAfter,
    };

    public enum Window
    {
        OnlyCurrent,            // before a save, or after the last rename
        TmpPartial,             // killed while writing checkpoint.tmp (no manifest yet)
        TmpCompleteBesideCurrent, // killed after the manifest, before the renames
        TmpCompleteBesideOld,   // killed after checkpoint → checkpoint.old
        CurrentBesideOld,       // killed after checkpoint.tmp → checkpoint, before checkpoint.old goes
        OnlyOld,                // the old protocol's window: checkpoint.old alone
        CorruptCurrentBesideOld, // a damaged file in the newest folder
    }

    [Theory]
    [InlineData(Window.OnlyCurrent, 4)]
    [InlineData(Window.TmpPartial, 2)]
    [InlineData(Window.TmpCompleteBesideCurrent, 4)]
    [InlineData(Window.TmpCompleteBesideOld, 4)]
    [InlineData(Window.CurrentBesideOld, 4)]
    [InlineData(Window.OnlyOld, 2)]
    [InlineData(Window.CorruptCurrentBesideOld, 2)]
    public void EveryStateOfTheRotationResumesBitExactly(Window window, int expectedStep)
    {
        using var tmp = new TempDir();
        TrainerTests.BuildArithmeticData(tmp["data"], 200);
        using var data = TokenDataset.Open(tmp["data"]);

        using var reference = TrainerTests.TinyModel(seed: 5);
        var full = new Trainer(reference, data, Options(), tmp["full"]).Run(resume: false);

        // Checkpoints at step 2 and at step 4 of the same run.
        string run = tmp["run"];
        using (var m = TrainerTests.TinyModel(seed: 5)) new Trainer(m, data, Options(stopAfter: 2), run).Run(resume: false);
        CopyDirectory(Path.Combine(run, CheckpointRotation.Current), tmp["at2"]);
        using (var m = TrainerTests.TinyModel(seed: 5)) new Trainer(m, data, Options(stopAfter: 2), run).Run(resume: true);
        CopyDirectory(Path.Combine(run, CheckpointRotation.Current), tmp["at4"]);
        Directory.Delete(Path.Combine(run, CheckpointRotation.Current), recursive: true);

        void Put(string source, string name) => CopyDirectory(source, Path.Combine(run, name));
        switch (window)
        {
            case Window.OnlyCurrent: Put(tmp["at4"], CheckpointRotation.Current); break;
            case Window.TmpPartial:
                Put(tmp["at2"], CheckpointRotation.Current);
                Put(tmp["at4"], CheckpointRotation.Temporary);
                File.Delete(Path.Combine(run, CheckpointRotation.Temporary, CheckpointRotation.ManifestFile));
                break;
            case Window.TmpCompleteBesideCurrent:
                Put(tmp["at2"], CheckpointRotation.Current);
                Put(tmp["at4"], CheckpointRotation.Temporary);
                break;
            case Window.TmpCompleteBesideOld:
                Put(tmp["at2"], CheckpointRotation.Previous);
                Put(tmp["at4"], CheckpointRotation.Temporary);
                break;
            case Window.CurrentBesideOld:
                Put(tmp["at2"], CheckpointRotation.Previous);
                Put(tmp["at4"], CheckpointRotation.Current);
                break;
            case Window.OnlyOld: Put(tmp["at2"], CheckpointRotation.Previous); break;
            case Window.CorruptCurrentBesideOld:
                Put(tmp["at2"], CheckpointRotation.Previous);
                Put(tmp["at4"], CheckpointRotation.Current);
                var weights = Path.Combine(run, CheckpointRotation.Current, "model.safetensors");
                var bytes = File.ReadAllBytes(weights);
                bytes[^1] ^= 0x5A;
                File.WriteAllBytes(weights, bytes);
                break;
        }

        Assert.True(Trainer.HasCheckpoint(run));
        Assert.Equal(expectedStep, Trainer.ReadCheckpointState(run)!.Step);
        var messages = new List<string>();
        using var resumed = TrainerTests.TinyModel(seed: 99);   // everything must come from the checkpoint
        var rest = new Trainer(resumed, data, Options(), run).Run(resume: true, log: messages.Add);
        Assert.True(rest.Completed);
        Assert.Contains(messages, m => m.Contains($"step {expectedStep}"));
        Assert.Equal(full.Losses.Skip(expectedStep), rest.Losses);   // bit-exact
        Assert.False(Directory.Exists(Path.Combine(run, CheckpointRotation.Temporary)));
        Assert.False(Directory.Exists(Path.Combine(run, CheckpointRotation.Previous)));
    }

    [Fact]
    public void NoCompleteCheckpointMeansNothingToResume()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["run"]);
        Assert.False(Trainer.HasCheckpoint(tmp["run"]));
        var partial = Path.Combine(tmp["run"], CheckpointRotation.Temporary);
        Directory.CreateDirectory(partial);
        File.WriteAllText(Path.Combine(partial, CheckpointRotation.StateFile), "{\"step\": 3, \"sampler\": {}}");
        Assert.False(Trainer.HasCheckpoint(tmp["run"]));   // a .tmp without its manifest is not a checkpoint
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
    }
}
