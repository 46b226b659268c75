using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Chat;
using HybridSharp.Checkpoints;
using HybridSharp.Data;
using HybridSharp.IO;
using HybridSharp.Models;
using HybridSharp.Sft;
using HybridSharp.Training;

namespace HybridSharp.Recipes;

/// <summary>
/// Supervised fine-tuning as one library call: loads the model and its chat template, reads and encodes the chat data
/// (validation from a file or a seeded hold-out), turns epochs into steps, and trains with the one
/// <see cref="Trainer"/>; writes <c>sft_config.json</c>, the fine-tuned model and, when it differs from the tokenizer's
/// own, the chat template it was trained with. Construct outside any dispose scope; the recipe owns the model.
/// </summary>
public sealed class SftRecipe : IDisposable
{
    public const string SettingsFile = "sft_config.json";

    private readonly CausalLM _model;
    private readonly ITokenizer _tokenizer;
    private readonly ChatTemplate _chat;

    public SftOptions Options { get; }
    public SftDataset Dataset { get; }
    public SftBatchSource Batches { get; }
    public TrainerOptions TrainerOptions { get; }
    /// <summary>Things the user should know before training (the end-of-turn marker), one sentence each.</summary>
    public IReadOnlyList<string> Notes { get; }

    public SftRecipe(SftOptions options)
    {
        options.Validate();
        Options = options;
        var (model, tokenizer) = ModelDirectory.Load(options.ModelDirectory);
        try
        {
            if (options.Packing && !model.SupportsPacking)
                throw new ArgumentException("`SftOptions.Packing` needs mixers that keep packed examples apart; this model has one that cannot (train one example per row)");
            _chat = ChatTemplate.For(tokenizer, options.ModelDirectory, options.ChatTemplatePath);
            Notes = EndOfTurnNotes(_chat, tokenizer);
            var conversations = ChatDataReader.Read(options.DataPath, options.Read);
            var evalConversations = options.EvalDataPath is { } ed ? ChatDataReader.Read(ed, options.Read) : null;
            var encoder = new SftEncoder(tokenizer, _chat, options.Loss, options.MaxLength, options.SystemPrompt);
            Dataset = SftDataset.Build(conversations, evalConversations, options.HoldOutFor(conversations.Count), options.Seed, encoder);
            Batches = new SftBatchSource(Dataset.Train, Dataset.Validation, options.BatchSize, options.Seed, tokenizer.PadId, options.Packing, options.MaxLength);
            int steps = options.Steps > 0 ? options.Steps
                : Math.Max(1, (int)Math.Ceiling(options.Epochs * Batches.BatchesPerEpoch / options.GradAccumulation));
            bool hasEval = Batches.EvaluationBatchCount > 0;
            TrainerOptions = new TrainerOptions
            {
                Steps = steps, BatchSize = options.BatchSize, SeqLen = options.MaxLength, GradAccumulation = options.GradAccumulation,
                LearningRate = options.LearningRate, MinLearningRate = options.LearningRate * options.MinLearningRateRatio,
                WarmupSteps = (int)Math.Ceiling(steps * options.WarmupRatio), Schedule = options.Schedule,
                WeightDecay = options.WeightDecay, ClipNorm = options.ClipNorm, Seed = options.Seed,
                EvalEvery = hasEval ? options.EvalEvery : 0, EvalBatches = options.EvalBatches,
                CheckpointEvery = options.CheckpointEvery, LogEvery = 1, StopAfterSteps = options.StopAfterSteps,
            };
            TrainerOptions.Validate();
        }
        catch
        {
            model.Dispose();
            throw;
        }
        _model = model;
        _tokenizer = tokenizer;
    }

    /// <summary>Where the template came from (file, tokenizer config, built-in ChatML).</summary>
    public string TemplateSource => _chat.Source;

    /// <summary>One line describing the data, the loss and the batches.</summary>
    public string Summary
    {
        get
        {
            int lossTokens = Dataset.Train.Sum(e => e.LossTokens);
            long allTokens = Dataset.Train.Sum(e => (long)e.Length - 1);
            return $"{Dataset.Train.Count:N0} training / {Dataset.Validation.Count:N0} validation examples, template: {_chat.Source}, " +
                $"loss on {Options.Loss.ToString().ToLowerInvariant()} ({lossTokens:N0} of {allTokens:N0} target tokens), " +
                $"{(Batches.Packing ? "packed rows" : "per-example batches")} ({Batches.BatchesPerEpoch} batches/epoch, " +
                $"{Batches.PaddingFraction:P1} padding), {TrainerOptions.Steps} steps" +
                (Dataset.Dropped > 0 ? $"; dropped {Dataset.Dropped} with no assistant tokens within `SftOptions.MaxLength`" : "") +
                (Dataset.Truncated > 0 ? $"; {Dataset.Truncated} cut at `SftOptions.MaxLength`" : "") +
                (Batches.EvaluationBatchCount > 0 ? "" : "; no validation examples");
        }
    }

    /// <summary>
    /// Trains (continuing from the checkpoint when <see cref="SftOptions.Resume"/>), then saves the model as it stands
    /// (an interrupted run also keeps its checkpoint, from which a rerun with <see cref="SftOptions.Resume"/> continues).
    /// </summary>
    public TrainResult Train(CancellationToken cancel = default, Action<TrainProgress>? progress = null, Action<string>? log = null)
    {
        Directory.CreateDirectory(Options.OutputDirectory);
        WriteSettings();
        var result = new Trainer(_model, Batches, TrainerOptions, Options.OutputDirectory).Run(Options.Resume, cancel, progress, log);
        ModelDirectory.Save(_model, _tokenizer, Options.OutputDirectory);
        SaveTemplate();
        return result;
    }

    public void Dispose() => _model.Dispose();

    /// <summary>The model learns to stop where the template ends an assistant turn: say so when that is not one special token.</summary>
    private static IReadOnlyList<string> EndOfTurnNotes(ChatTemplate chat, ITokenizer tokenizer)
    {
        if (chat.EndOfTurn is null)
            return ["the chat template writes no special token after an assistant turn; the model will not learn where a turn ends"];
        if (!tokenizer.SpecialTokens.ContainsKey(chat.EndOfTurn))
            return [$"the end-of-turn marker {chat.EndOfTurn} is not a special token of this tokenizer; generation stops on it as text"];
        return [];
    }

    private void WriteSettings()
    {
        var o = TrainerOptions;
        var json = new JsonObject
        {
            ["base_model"] = Path.GetFullPath(Options.ModelDirectory),
            ["data"] = Path.GetFullPath(Options.DataPath),
            ["chat_template"] = _chat.Source,
            ["system_prompt"] = Options.SystemPrompt,
            ["loss_on"] = Options.Loss.ToString().ToLowerInvariant(),
            ["packing"] = Batches.Packing,
            ["max_length"] = o.SeqLen,
            ["train_examples"] = Dataset.Train.Count,
            ["validation_examples"] = Dataset.Validation.Count,
            ["batches_per_epoch"] = Batches.BatchesPerEpoch,
            ["steps"] = o.Steps,
            ["batch_size"] = o.BatchSize,
            ["grad_accum"] = o.GradAccumulation,
            ["lr"] = o.LearningRate,
            ["min_lr"] = o.MinLearningRate,
            ["warmup_steps"] = o.WarmupSteps,
            ["schedule"] = o.Schedule,
            ["weight_decay"] = o.WeightDecay,
            ["clip"] = o.ClipNorm,
            ["seed"] = o.Seed,
        };
        AtomicFile.WriteAllText(Path.Combine(Options.OutputDirectory, SettingsFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>
    /// Keeps the template the model was trained with next to it (chat_template.jinja, which generation, serving and
    /// transformers read before tokenizer_config.json) unless it is the tokenizer's own or the built-in ChatML.
    /// </summary>
    private void SaveTemplate()
    {
        string? own;
        try { own = ChatTemplate.For(_tokenizer).Text; }
        catch (ArgumentException) { own = null; }
        if (own != _chat.Text) AtomicFile.WriteAllText(Path.Combine(Options.OutputDirectory, ChatTemplate.TemplateFileName), _chat.Text);
    }
}
