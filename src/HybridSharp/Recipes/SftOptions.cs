using HybridSharp.Data;
using HybridSharp.Sft;
using HybridSharp.Training;

namespace HybridSharp.Recipes;

/// <summary>Settings of a supervised fine-tuning run (<see cref="SftRecipe"/>); the defaults are those of <c>hybrid sft</c>.</summary>
public sealed record SftOptions
{
    /// <summary>The model directory to fine-tune.</summary>
    public required string ModelDirectory { get; init; }
    /// <summary>Chat data (.jsonl or .parquet, TRL "messages" or ShareGPT "conversations").</summary>
    public required string DataPath { get; init; }
    /// <summary>Where checkpoints, metrics and the fine-tuned model go; must differ from <see cref="ModelDirectory"/>.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>Validation chat data; null = hold out <see cref="EvalSize"/> conversations.</summary>
    public string? EvalDataPath { get; init; }
    /// <summary>Conversations held out for validation; −1 = 5 % of the data, at most <see cref="MaxHoldOut"/>, none under 20.</summary>
    public int EvalSize { get; init; } = -1;
    /// <summary>The cap of the automatic hold-out.</summary>
    public int MaxHoldOut { get; init; } = 1000;
    public SftLoss Loss { get; init; } = SftLoss.Assistant;
    /// <summary>Several examples per row; every mixer keeps them apart (block-diagonal attention, state reset at boundaries).</summary>
    public bool Packing { get; init; }
    /// <summary>How the chat data's fields are read (a number where text is expected is an error unless coerced).</summary>
    public RecordReadOptions Read { get; init; } = RecordReadOptions.Strict;
    /// <summary>Tokens per example (longer ones are cut at the end); the row length when packing.</summary>
    public int MaxLength { get; init; } = 1024;
    /// <summary>A system prompt for every example (replaces any in the data).</summary>
    public string? SystemPrompt { get; init; }
    /// <summary>A Jinja chat template file to use instead of the model's.</summary>
    public string? ChatTemplatePath { get; init; }
    /// <summary>Passes over the training data, used when <see cref="Steps"/> is 0.</summary>
    public double Epochs { get; init; } = 2.0;
    /// <summary>Optimizer steps; 0 = from <see cref="Epochs"/>.</summary>
    public int Steps { get; init; }
    public int BatchSize { get; init; } = 8;
    public int GradAccumulation { get; init; } = 1;
    public double LearningRate { get; init; } = 5e-5;
    /// <summary>Final learning rate as a fraction of <see cref="LearningRate"/>.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;
    /// <summary>Warmup steps as a fraction of all steps.</summary>
    public double WarmupRatio { get; init; } = 0.05;
    public string Schedule { get; init; } = "cosine";
    public double WeightDecay { get; init; } = 0.01;
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Validation loss every N steps (0 = only at the end).</summary>
    public int EvalEvery { get; init; } = 50;
    public int EvalBatches { get; init; } = 16;
    public int CheckpointEvery { get; init; } = 100;
    /// <summary>Data split and order seed.</summary>
    public long Seed { get; init; } = 233;
    /// <summary>Continue from the checkpoint in <see cref="OutputDirectory"/>.</summary>
    public bool Resume { get; init; }
    /// <summary>Start over even if <see cref="OutputDirectory"/> holds a checkpoint.</summary>
    public bool Force { get; init; }
    /// <summary>Stop (with a checkpoint) after this many steps in this run; 0 = no limit.</summary>
    public int StopAfterSteps { get; init; }

    /// <summary>Checks the settings and the output directory's state; names options as <c>`SftOptions.X`</c>.</summary>
    public void Validate()
    {
        static void Req(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Req(MaxLength >= 2, "`SftOptions.MaxLength` must be at least 2");
        Req(Epochs > 0 || Steps > 0, "give `SftOptions.Steps` > 0 or `SftOptions.Epochs` > 0");
        Req(Steps >= 0, "`SftOptions.Steps` must be ≥ 0");
        Req(WarmupRatio is >= 0 and < 1, "`SftOptions.WarmupRatio` must be in [0, 1)");
        Req(MinLearningRateRatio is >= 0 and <= 1, "`SftOptions.MinLearningRateRatio` must be in [0, 1]");
        Req(EvalBatches >= 1, "`SftOptions.EvalBatches` must be positive");
        Req(MaxHoldOut >= 0, "SftOptions.MaxHoldOut must be ≥ 0");   // library-only: no flag sets it
        bool hasCheckpoint = Trainer.HasCheckpoint(OutputDirectory);   // verifies checksums: ask once
        Req(!Resume || hasCheckpoint, $"`SftOptions.Resume`: {OutputDirectory} has no checkpoint");
        Req(Resume || !hasCheckpoint || Force,
            $"{OutputDirectory} already holds an SFT checkpoint; set `SftOptions.Resume` to continue or `SftOptions.Force` to start over");
        Req(Path.GetFullPath(OutputDirectory) != Path.GetFullPath(ModelDirectory), "`SftOptions.OutputDirectory` must differ from `SftOptions.ModelDirectory`");
    }

    /// <summary>The automatic hold-out for <paramref name="conversations"/> examples: 5 %, at most <see cref="MaxHoldOut"/>, none under 20.</summary>
    public int HoldOutFor(int conversations) =>
        EvalSize >= 0 ? EvalSize : conversations < 20 ? 0 : Math.Min(MaxHoldOut, conversations / 20);
}
