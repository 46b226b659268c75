using System.CommandLine;
using HybridSharp.Data;
using HybridSharp.Recipes;
using HybridSharp.Sft;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

internal static class SftCommand
{
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
        var packing = Cli.Opt("--packing", "pack examples into rows of --max-length (block-diagonal attention; state-space layers restart per example)", false);
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
        var coerce = Cli.Opt("--coerce", "read a number or true/false where the chat data expects text (a role, a content) as text (default: an error naming the line and field)", false);
        var cmd = new Command("sft", "Supervised fine-tuning on chat data: chat template, assistant-only loss, per-example or packed batches, validation, exact resume.")
        {
            model, data, output, evalData, evalSize, loss, packing, maxLength, system, template, epochs, steps, batch, accum, lr, minLrRatio,
            warmupRatio, schedule, wd, clip, evalEvery, evalBatches, ckptEvery, seed, resume, force, stopAfter, coerce,
        };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var options = new SftOptions
            {
                ModelDirectory = pr.GetValue(model)!, DataPath = pr.GetValue(data)!, OutputDirectory = pr.GetValue(output)!,
                EvalDataPath = pr.GetValue(evalData), EvalSize = pr.GetValue(evalSize),
                Loss = pr.GetValue(loss)!.ToLowerInvariant() switch
                {
                    "assistant" => SftLoss.Assistant,
                    "all" => SftLoss.All,
                    var s => throw new ArgumentException($"--loss must be assistant or all, not '{s}'"),
                },
                Packing = pr.GetValue(packing), MaxLength = pr.GetValue(maxLength), SystemPrompt = pr.GetValue(system),
                ChatTemplatePath = pr.GetValue(template), Epochs = pr.GetValue(epochs), Steps = pr.GetValue(steps),
                BatchSize = pr.GetValue(batch), GradAccumulation = pr.GetValue(accum), LearningRate = pr.GetValue(lr),
                MinLearningRateRatio = pr.GetValue(minLrRatio), WarmupRatio = pr.GetValue(warmupRatio), Schedule = pr.GetValue(schedule)!,
                WeightDecay = pr.GetValue(wd), ClipNorm = pr.GetValue(clip), EvalEvery = pr.GetValue(evalEvery),
                EvalBatches = pr.GetValue(evalBatches), CheckpointEvery = pr.GetValue(ckptEvery), Seed = pr.GetValue(seed),
                Resume = pr.GetValue(resume), Force = pr.GetValue(force), StopAfterSteps = pr.GetValue(stopAfter),
                Read = new RecordReadOptions { CoerceText = pr.GetValue(coerce) },
            };
            using var recipe = new SftRecipe(options);
            foreach (var note in recipe.Notes) AnsiConsole.MarkupLine($"[yellow]note: {Markup.Escape(note)}[/]");
            AnsiConsole.MarkupLine(Markup.Escape("sft: " + OptionFlags.Rewrite(recipe.Summary)));
            int total = recipe.TrainerOptions.Steps;
            var result = TrainUi.Run((cancel, progress, log) => recipe.Train(cancel, progress, log), total, "sft");
            AnsiConsole.MarkupLine($"Saved [green]{Markup.Escape(options.OutputDirectory)}[/] at step {result.FinalStep}/{total}: loss {result.LastLoss:F4}" +
                (result.LastEvalLoss is { } e ? $", validation loss {e:F4}" : "") + ".");
            return result.Interrupted ? Cli.ExitInterrupted : 0;
        }));
        return cmd;
    }
}
