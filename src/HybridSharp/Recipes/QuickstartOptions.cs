using HybridSharp.Tasks;

namespace HybridSharp.Recipes;

/// <summary>
/// Settings of the quickstart run. The defaults are the measured recipe: a TransXSSM hybrid trained on two-digit word
/// problems with the loss on the solutions only, which reaches its accuracy targets within six minutes on 2 CPU cores.
/// </summary>
public sealed record QuickstartOptions
{
    /// <summary>Model preset (see <see cref="Config.Presets"/>).</summary>
    public string Preset { get; init; } = "transxssm-tiny-2a";

    /// <summary>Optimizer steps; the learning-rate schedule spans exactly these.</summary>
    public int Steps { get; init; } = 3000;

    /// <summary>Training stops after this much wall time even if steps remain (a checkpoint is kept; rerun to go on).</summary>
    public double Minutes { get; init; } = 6;

    /// <summary>Synthetic training problems (difficulties cycle 1..<see cref="MaxDifficulty"/>).</summary>
    public int Problems { get; init; } = 40_000;

    /// <summary>Most operations per problem.</summary>
    public int MaxDifficulty { get; init; } = 3;

    /// <summary>Held-out problems evaluated after training (0 = none).</summary>
    public int EvalProblems { get; init; } = 300;

    /// <summary>The numbers and wording of the problems.</summary>
    public ArithmeticSettings Arithmetic { get; init; } = ArithmeticSettings.Simple;

    /// <summary>Problems per batch (each problem is one row, right-padded to the longest in its batch).</summary>
    public int BatchSize { get; init; } = 16;

    public double LearningRate { get; init; } = 3e-3;
    public double MinLearningRate { get; init; } = 1e-4;
    public int WarmupSteps { get; init; } = 60;

    /// <summary>Learning-rate schedule after warmup (see <see cref="Training.LearningRateSchedule"/>).</summary>
    public string Schedule { get; init; } = "cosine";

    /// <summary>When true (the default) the loss covers the solution only; the question is context, as in SFT.</summary>
    public bool SolutionLossOnly { get; init; } = true;

    /// <summary>Seed of the data, the initial weights and the batch order.</summary>
    public int Seed { get; init; } = 7;

    /// <summary>Throws with one line naming the first bad setting.</summary>
    public void Validate()
    {
        if (Steps <= 0) throw new ArgumentException("the quickstart needs at least one step");
        if (Minutes <= 0) throw new ArgumentException("the quickstart's time limit must be positive");
        if (Problems < 10) throw new ArgumentException("the quickstart needs at least 10 training problems");
        if (EvalProblems < 0) throw new ArgumentException("the number of held-out problems cannot be negative");
        if (MaxDifficulty < ArithmeticGenerator.MinDifficulty || MaxDifficulty > ArithmeticGenerator.MaxDifficulty)
            throw new ArgumentException($"the most operations per problem must be in {ArithmeticGenerator.MinDifficulty}..{ArithmeticGenerator.MaxDifficulty}");
        if (BatchSize < 1) throw new ArgumentException("the batch size must be positive");
        Arithmetic.Validate();
    }
}
