using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.IO;
using HybridSharp.Sft;
using HybridSharp.Training;
using Spectre.Console;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

internal static class SftCommand
{
    public const string SettingsFile = "sft_config.json";

    public static Command Create()
    {
        var model = Cli.OptNoDefault<string>("--model", "model directory to fine-tune (from 'hybrid init', 'train' or 'import')", "-m");
        model.Required = true;
        var data = Cli.OptNoDefault<string>("--data", "chat data: .jsonl or .parquet with TRL 'messages' (role/content) or ShareGPT 'conversations' (from/value)", "-d");
        data.Required = true;
        var output = Cli.OptNoDefault<string>("--out", "output model directory (checkpoints, metrics.jsonl, loss.png, and the fine-tuned model)", "-o");
        output.Required = true;
        var evalData = Cli.OptNoDefault<string?>("--eval-data", "validation chat data (default: hold out --eval-size conversations)");
        var evalSize = Cli.Opt("--eval-size", "conversations held out for validation (-1 = 5%, at most 1000, none under 20)", -1);
        var loss = Cli.Opt("--loss", "assistant (loss on assistant turns and their end marker) or all (every token, TRL ≤ 0.16 / LiteCoT)", "assistant");
        var packing = Cli.Opt("--packing", "pack examples into rows of --max-length with block-diagonal attention (attention/DMA models only)", false);
        var maxLength = Cli.Opt("--max-length", "tokens per example (longer ones are cut at the end); the row length when packing", 1024);
        var system = Cli.OptNoDefault<string?>("--system", "system prompt to use for every example (replaces any in the data); recorded in sft_config.json");
        var template = Cli.OptNoDefault<string?>("--chat-template", "a Jinja chat template file to use instead of the model's; saved as chat_template.jinja in --out");
        var epochs = Cli.Opt("--epochs", "passes over the training data (used when --steps is 0)", 2.0);
        var steps = Cli.Opt("--steps", "optimizer steps (0 = from --epochs)", 0);
        var batch = Cli.Opt("--batch-size", "examples (or packed rows) per micro-batch", 8, "-b");
        var accum = Cli.Opt("--grad-accum", "micro-batches per optimizer step", 1);
        var lr = Cli.Opt("--lr", "peak learning rate", 5e-5);
        var minLrRatio = Cli.Opt("--min-lr-ratio", "final learning rate as a fraction of --lr (cosine_with_min_lr)", 0.1);
        var warmupRatio = Cli.Opt("--warmup-ratio", "warmup steps as a fraction of all steps", 0.05);
        var schedule = Cli.Opt("--schedule", "cosine, wsd or constant", "cosine");
        var wd = Cli.Opt("--weight-decay", "AdamW weight decay (matrices and embeddings only)", 0.01);
        var clip = Cli.Opt("--clip", "gradient-norm clipping (0 = off)", 1.0);
        var evalEvery = Cli.Opt("--eval-every", "validation loss every N steps (0 = only at the end)", 50);
        var evalBatches = Cli.Opt("--eval-batches", "validation batches per evaluation", 16);
        var ckptEvery = Cli.Opt("--checkpoint-every", "checkpoint every N steps", 100);
        var seed = Cli.Opt("--seed", "data split and order seed", 233L);
        var resume = Cli.Opt("--resume", "continue from the checkpoint in --out", false);
        var force = Cli.Opt("--force", "start over even if --out holds a checkpoint", false);
        var stopAfter = Cli.Opt("--stop-after", "stop (with a checkpoint) after this many steps in this run; 0 = no limit", 0);
        var cmd = new Command("sft", "Supervised fine-tuning on chat data: chat template, assistant-only loss, per-example or packed batches, validation, exact resume.")
        {
            model, data, output, evalData, evalSize, loss, packing, maxLength, system, template, epochs, steps, batch, accum, lr, minLrRatio,
            warmupRatio, schedule, wd, clip, evalEvery, evalBatches, ckptEvery, seed, resume, force, stopAfter,
        };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var modelDir = pr.GetValue(model)!;
            var outDir = pr.GetValue(output)!;
            var lossMode = pr.GetValue(loss)!.ToLowerInvariant() switch
            {
                "assistant" => SftLoss.Assistant,
                "all" => SftLoss.All,
                var s => throw new ArgumentException($"--loss must be assistant or all, not '{s}'"),
            };
            int maxLen = pr.GetValue(maxLength);
            if (maxLen < 2) throw new ArgumentException("--max-length must be at least 2");
            if (pr.GetValue(epochs) <= 0 && pr.GetValue(steps) <= 0) throw new ArgumentException("give --steps > 0 or --epochs > 0");
            if (pr.GetValue(steps) < 0) throw new ArgumentException("--steps must be ≥ 0");
            if (pr.GetValue(warmupRatio) is < 0 or >= 1) throw new ArgumentException("--warmup-ratio must be in [0, 1)");
            if (pr.GetValue(minLrRatio) is < 0 or > 1) throw new ArgumentException("--min-lr-ratio must be in [0, 1]");
            if (pr.GetValue(evalBatches) < 1) throw new ArgumentException("--eval-batches must be positive");
            bool doResume = pr.GetValue(resume);
            if (doResume && !Trainer.HasCheckpoint(outDir)) throw new ArgumentException($"--resume: {outDir} has no checkpoint");
            if (!doResume && Trainer.HasCheckpoint(outDir) && !pr.GetValue(force))
                throw new ArgumentException($"{outDir} already holds an SFT checkpoint; pass --resume to continue or --force to start over");
            if (Path.GetFullPath(outDir) == Path.GetFullPath(modelDir)) throw new ArgumentException("--out must differ from --model");

            var (m, tokenizer) = ModelDirectory.Load(modelDir);
            using var _ = m;
            if (pr.GetValue(packing) && !m.SupportsPacking)
                throw new ArgumentException("--packing needs a model whose layers are all attention or DMA: SSD layers cannot reset their state between packed examples (use the default per-example batches)");
            var chat = ChatTemplate.For(tokenizer, modelDir, pr.GetValue(template));
            CheckEndOfTurn(chat, tokenizer);

            var conversations = ChatDataReader.Read(pr.GetValue(data)!);
            var evalConversations = pr.GetValue(evalData) is { } ed ? ChatDataReader.Read(ed) : null;
            int holdOut = pr.GetValue(evalSize);
            if (holdOut < 0) holdOut = conversations.Count < 20 ? 0 : Math.Min(1000, conversations.Count / 20);
            var encoder = new SftEncoder(tokenizer, chat, lossMode, maxLen, pr.GetValue(system));
            var dataset = SftDataset.Build(conversations, evalConversations, holdOut, pr.GetValue(seed), encoder);
            var source = new SftBatchSource(dataset.Train, dataset.Validation, pr.GetValue(batch), pr.GetValue(seed), tokenizer.PadId,
                pr.GetValue(packing), maxLen);

            int totalSteps = pr.GetValue(steps);
            if (totalSteps == 0)
                totalSteps = Math.Max(1, (int)Math.Ceiling(pr.GetValue(epochs) * source.BatchesPerEpoch / pr.GetValue(accum)));
            double peak = pr.GetValue(lr);
            bool hasEval = source.EvaluationBatchCount > 0;
            var options = new TrainerOptions
            {
                Steps = totalSteps, BatchSize = pr.GetValue(batch), SeqLen = maxLen, GradAccumulation = pr.GetValue(accum),
                LearningRate = peak, MinLearningRate = peak * pr.GetValue(minLrRatio),
                WarmupSteps = (int)Math.Ceiling(totalSteps * pr.GetValue(warmupRatio)), Schedule = pr.GetValue(schedule)!,
                WeightDecay = pr.GetValue(wd), ClipNorm = pr.GetValue(clip), Seed = pr.GetValue(seed),
                EvalEvery = hasEval ? pr.GetValue(evalEvery) : 0, EvalBatches = pr.GetValue(evalBatches),
                CheckpointEvery = pr.GetValue(ckptEvery), LogEvery = 1, StopAfterSteps = pr.GetValue(stopAfter),
            };
            options.Validate();

            int lossTokens = dataset.Train.Sum(e => e.LossTokens);
            long allTokens = dataset.Train.Sum(e => (long)e.Length - 1);
            AnsiConsole.MarkupLine(Markup.Escape(
                $"sft: {dataset.Train.Count:N0} training / {dataset.Validation.Count:N0} validation examples, template: {chat.Source}, loss on {lossMode.ToString().ToLowerInvariant()} " +
                $"({lossTokens:N0} of {allTokens:N0} target tokens), {(source.Packing ? "packed rows" : "per-example batches")} " +
                $"({source.BatchesPerEpoch} batches/epoch, {source.PaddingFraction:P1} padding), {totalSteps} steps" +
                (dataset.Dropped > 0 ? $"; dropped {dataset.Dropped} with no assistant tokens within --max-length" : "") +
                (dataset.Truncated > 0 ? $"; {dataset.Truncated} cut at --max-length" : "") +
                (hasEval ? "" : "; no validation examples")));

            Directory.CreateDirectory(outDir);
            WriteSettings(outDir, modelDir, pr.GetValue(data)!, chat, lossMode, source, options, pr.GetValue(system), dataset);
            var trainer = new Trainer(m, source, options, outDir);
            var result = TrainUi.Run(trainer, options, doResume, "sft");
            ModelDirectory.Save(m, tokenizer, outDir);
            SaveTemplate(outDir, chat, tokenizer);
            AnsiConsole.MarkupLine($"Saved [green]{Markup.Escape(outDir)}[/] at step {result.FinalStep}/{totalSteps}: loss {result.LastLoss:F4}" +
                (result.LastEvalLoss is { } e ? $", validation loss {e:F4}" : "") + ".");
            return result.Interrupted ? Cli.ExitInterrupted : 0;
        }));
        return cmd;
    }

    /// <summary>The model learns to stop where the template ends an assistant turn: warn when that is not one special token.</summary>
    private static void CheckEndOfTurn(ChatTemplate chat, ITokenizer tokenizer)
    {
        if (chat.EndOfTurn is null)
            AnsiConsole.MarkupLine("[yellow]note: the chat template writes no special token after an assistant turn; the model will not learn where a turn ends[/]");
        else if (!tokenizer.SpecialTokens.ContainsKey(chat.EndOfTurn))
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape($"note: the end-of-turn marker {chat.EndOfTurn} is not a special token of this tokenizer; generation stops on it as text")}[/]");
    }

    private static void WriteSettings(string outDir, string modelDir, string dataPath, ChatTemplate chat, SftLoss loss, SftBatchSource source,
        TrainerOptions options, string? system, SftDataset dataset)
    {
        var json = new JsonObject
        {
            ["base_model"] = Path.GetFullPath(modelDir),
            ["data"] = Path.GetFullPath(dataPath),
            ["chat_template"] = chat.Source,
            ["system_prompt"] = system,
            ["loss_on"] = loss.ToString().ToLowerInvariant(),
            ["packing"] = source.Packing,
            ["max_length"] = options.SeqLen,
            ["train_examples"] = dataset.Train.Count,
            ["validation_examples"] = dataset.Validation.Count,
            ["batches_per_epoch"] = source.BatchesPerEpoch,
            ["steps"] = options.Steps,
            ["batch_size"] = options.BatchSize,
            ["grad_accum"] = options.GradAccumulation,
            ["lr"] = options.LearningRate,
            ["min_lr"] = options.MinLearningRate,
            ["warmup_steps"] = options.WarmupSteps,
            ["schedule"] = options.Schedule,
            ["weight_decay"] = options.WeightDecay,
            ["clip"] = options.ClipNorm,
            ["seed"] = options.Seed,
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, SettingsFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>
    /// Keeps the template the model was trained with next to it (chat_template.jinja, which generation, serving and
    /// transformers read before tokenizer_config.json) unless it is the tokenizer's own or the built-in ChatML.
    /// </summary>
    private static void SaveTemplate(string outDir, ChatTemplate chat, ITokenizer tokenizer)
    {
        string? own;
        try { own = ChatTemplate.For(tokenizer).Text; }
        catch (ArgumentException) { own = null; }
        if (own != chat.Text) AtomicFile.WriteAllText(Path.Combine(outDir, ChatTemplate.TemplateFileName), chat.Text);
    }
}
