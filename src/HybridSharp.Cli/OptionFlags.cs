using System.Text.RegularExpressions;

namespace HybridSharp.Cli;

/// <summary>
/// Library messages name options as the library calls them, in backticks (<c>`TrainerOptions.LearningRate`</c>); the
/// command line shows its own flag there instead (<c>--lr</c>). One table for every command.
/// </summary>
public static partial class OptionFlags
{
    /// <summary>Library option name → command-line flag.</summary>
    public static readonly IReadOnlyDictionary<string, string> Flags = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["TrainerOptions.Steps"] = "--steps",
        ["TrainerOptions.BatchSize"] = "--batch-size",
        ["TrainerOptions.SeqLen"] = "--seq-len",
        ["TrainerOptions.GradAccumulation"] = "--grad-accum",
        ["TrainerOptions.LearningRate"] = "--lr",
        ["TrainerOptions.MinLearningRate"] = "--min-lr",
        ["TrainerOptions.WarmupSteps"] = "--warmup",
        ["TrainerOptions.Schedule"] = "--schedule",
        ["TrainerOptions.WeightDecay"] = "--weight-decay",
        ["TrainerOptions.ClipNorm"] = "--clip",
        ["TrainerOptions.EvalEvery"] = "--eval-every",
        ["TrainerOptions.CheckpointEvery"] = "--checkpoint-every",
        ["TrainerOptions.StopAfterSteps"] = "--stop-after",
        ["SftOptions.MaxLength"] = "--max-length",
        ["SftOptions.EvalSize"] = "--eval-size",
        ["SftOptions.Epochs"] = "--epochs",
        ["SftOptions.Steps"] = "--steps",
        ["SftOptions.WarmupRatio"] = "--warmup-ratio",
        ["SftOptions.MinLearningRateRatio"] = "--min-lr-ratio",
        ["SftOptions.EvalBatches"] = "--eval-batches",
        ["SftOptions.Packing"] = "--packing",
        ["SftOptions.Resume"] = "--resume",
        ["SftOptions.Force"] = "--force",
        ["SftOptions.OutputDirectory"] = "--out",
        ["SftOptions.ModelDirectory"] = "--model",
        ["ProblemFields.Problem"] = "--problem-field",
        ["ProblemFields.Answer"] = "--answer-field",
        ["ProblemFields.Id"] = "--id-field",
        ["ReasoningEvalOptions.Samples"] = "--samples",
        ["ReasoningEvalOptions.BatchSize"] = "--batch-size",
        ["ReasoningEvalOptions.PromptTemplate"] = "--prompt-template",
        ["SamplingOptions.Temperature"] = "--temperature",
        ["GenerationOptions.MaxNewTokens"] = "--max-tokens",
        ["ReasoningDataOptions.TrainCount"] = "--train",
        ["ReasoningDataOptions.EvalCount"] = "--eval",
        ["ReasoningDataOptions.MinDifficulty"] = "--min-difficulty",
        ["ReasoningDataOptions.MaxDifficulty"] = "--max-difficulty",
        ["TeacherClientOptions.Model"] = "--model",
        ["ServerOptions.MaxBatch"] = "--max-batch",
        ["ServerOptions.QueueCapacity"] = "--queue",
        ["ServerOptions.MaxTokens"] = "--max-tokens",
        ["ServerOptions.ContextLength"] = "--context",
        ["ServerOptions.Port"] = "--port",
        ["ServerOptions.Weights"] = "--dtype",
        ["ServerOptions.CorsOrigins"] = "--cors-origin",
        ["ServerOptions.Host"] = "--host",
        ["LiteCotMiniOptions.Epochs"] = "--epochs",
        ["LiteCotMiniOptions.Steps"] = "--steps",
        ["LiteCotMiniOptions.PretrainSteps"] = "--pretrain-steps",
        ["LiteCotMiniOptions.BatchSize"] = "--batch-size",
        ["LiteCotMiniOptions.LearningRate"] = "--lr",
        ["LiteCotMiniOptions.MaxLength"] = "--max-length",
        ["LiteCotMiniOptions.EvalMaxTokens"] = "--max-tokens",
        ["LiteCotMiniOptions.TeacherUrl"] = "--teacher-url",
        ["LiteCotMiniOptions.TeacherModel"] = "--teacher-model",
        ["LiteCotMiniOptions.Preset"] = "--preset",
        ["LiteCotMiniOptions.OutputDirectory"] = "--out",
        ["ModelDirectory.AllowNonFiniteWeights"] = "--allow-nonfinite",
        ["DocumentReaderOptions.ReplaceInvalidUtf8"] = "--replace-invalid-utf8",
        ["DocumentReaderOptions.CoerceText"] = "--coerce",
        ["RecordReadOptions.CoerceText"] = "--coerce",
        ["budget"] = "--budget",
        ["seqLen"] = "--seq-len",
        ["overwrite"] = "--force",
        ["templatePath"] = "--chat-template",
    };

    /// <summary><paramref name="message"/> with every backticked library option name replaced by its flag.</summary>
    public static string Rewrite(string message) =>
        Named().Replace(message, m => Flags.TryGetValue(m.Groups[1].Value, out var flag) ? flag : m.Value);

    [GeneratedRegex(@"`([A-Za-z][\w.]*)`")]
    private static partial Regex Named();
}
