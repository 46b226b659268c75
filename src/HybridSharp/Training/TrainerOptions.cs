namespace HybridSharp.Training;

/// <summary>Settings of one training run. Defaults suit the tiny presets on a 2-core CPU.</summary>
public sealed record TrainerOptions
{
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 16;
    public int SeqLen { get; init; } = 256;
    public int GradAccumulation { get; init; } = 1;
    public double LearningRate { get; init; } = 3e-3;
    public double MinLearningRate { get; init; } = 3e-4;
    public int WarmupSteps { get; init; } = 50;
    public string Schedule { get; init; } = "cosine";
    public double DecayFraction { get; init; } = 0.2;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;
    public double ClipNorm { get; init; } = 1.0;
    public int EvalEvery { get; init; } = 200;
    public int EvalBatches { get; init; } = 8;
    public int CheckpointEvery { get; init; } = 200;
    public int LogEvery { get; init; } = 10;
    public long Seed { get; init; } = 1234;
    /// <summary>Stop (after checkpointing) once this many steps ran in this invocation; 0 = no limit. For tests and time-boxed runs.</summary>
    public int StopAfterSteps { get; init; }
    /// <summary>Stop (after checkpointing) after this much wall time; null = no limit.</summary>
    public TimeSpan? TimeBudget { get; init; }

    public void Validate()
    {
        static void Req(bool ok, string msg) { if (!ok) throw new ArgumentException(msg); }
        Req(Steps > 0, "`TrainerOptions.Steps` must be positive");
        Req(BatchSize > 0, "`TrainerOptions.BatchSize` must be positive");
        Req(SeqLen > 1, "`TrainerOptions.SeqLen` must be at least 2");
        Req(GradAccumulation > 0, "`TrainerOptions.GradAccumulation` must be positive");
        Req(LearningRate > 0, "`TrainerOptions.LearningRate` must be positive");
        Req(MinLearningRate >= 0 && MinLearningRate <= LearningRate, "`TrainerOptions.MinLearningRate` must be between 0 and `TrainerOptions.LearningRate`");
        Req(WarmupSteps >= 0, "`TrainerOptions.WarmupSteps` must be ≥ 0");
        Req(LearningRateSchedule.Kinds.Contains(Schedule), $"`TrainerOptions.Schedule` must be one of {string.Join(", ", LearningRateSchedule.Kinds)}");
        Req(DecayFraction is > 0 and <= 1, "TrainerOptions.DecayFraction must be in (0, 1]");
        Req(WeightDecay >= 0, "`TrainerOptions.WeightDecay` must be ≥ 0");
        Req(ClipNorm >= 0, "`TrainerOptions.ClipNorm` must be ≥ 0 (0 = off)");
        Req(EvalEvery >= 0 && CheckpointEvery >= 0, "`TrainerOptions.EvalEvery` and `TrainerOptions.CheckpointEvery` must be ≥ 0");
        Req(StopAfterSteps >= 0, "`TrainerOptions.StopAfterSteps` must be ≥ 0 (0 = no limit)");
    }
}
