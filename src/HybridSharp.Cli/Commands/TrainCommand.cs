using System.CommandLine;
using HybridSharp.Data.Corpus;
using HybridSharp.Training;
using Spectre.Console;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

internal static class TrainCommand
{
    public static Command Create()
    {
        var model = Cli.OptNoDefault<string>("--model", "model directory (from 'hybrid init'); checkpoints, metrics.jsonl and loss.png go here", "-m");
        model.Required = true;
        var data = Cli.OptNoDefault<string>("--data", "dataset directory (from 'hybrid data')", "-d");
        data.Required = true;
        var d = new TrainerOptions();
        var steps = Cli.Opt("--steps", "optimizer steps", d.Steps);
        var batch = Cli.Opt("--batch-size", "sequences per micro-batch", d.BatchSize, "-b");
        var seqLen = Cli.Opt("--seq-len", "tokens per sequence", d.SeqLen);
        var accum = Cli.Opt("--grad-accum", "micro-batches per optimizer step", d.GradAccumulation);
        var lr = Cli.Opt("--lr", "peak learning rate", d.LearningRate);
        var minLr = Cli.Opt("--min-lr", "final learning rate", d.MinLearningRate);
        var warmup = Cli.Opt("--warmup", "warmup steps", d.WarmupSteps);
        var schedule = Cli.Opt("--schedule", "cosine, wsd (warmup-stable-decay) or constant", d.Schedule);
        var wd = Cli.Opt("--weight-decay", "AdamW weight decay (matrices and embeddings only)", d.WeightDecay);
        var clip = Cli.Opt("--clip", "gradient-norm clipping (0 = off)", d.ClipNorm);
        var evalEvery = Cli.Opt("--eval-every", "evaluate every N steps (0 = only at the end)", d.EvalEvery);
        var ckptEvery = Cli.Opt("--checkpoint-every", "checkpoint every N steps", d.CheckpointEvery);
        var seed = Cli.Opt("--seed", "data-order seed", d.Seed);
        var resume = Cli.Opt("--resume", "continue from the model directory's checkpoint", false);
        var stopAfter = Cli.Opt("--stop-after", "stop (with a checkpoint) after this many steps in this run, e.g. one slice of a time-limited job; 0 = no limit", 0);
        var cmd = new Command("train", "Train a model directory on a tokenized dataset (AdamW, warmup + cosine/WSD, checkpoints, exact resume).")
            { model, data, steps, batch, seqLen, accum, lr, minLr, warmup, schedule, wd, clip, evalEvery, ckptEvery, seed, resume, stopAfter };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var dir = pr.GetValue(model)!;
            var options = new TrainerOptions
            {
                Steps = pr.GetValue(steps), BatchSize = pr.GetValue(batch), SeqLen = pr.GetValue(seqLen), GradAccumulation = pr.GetValue(accum),
                LearningRate = pr.GetValue(lr), MinLearningRate = Math.Min(pr.GetValue(minLr), pr.GetValue(lr)), WarmupSteps = pr.GetValue(warmup),
                Schedule = pr.GetValue(schedule)!, WeightDecay = pr.GetValue(wd), ClipNorm = pr.GetValue(clip),
                EvalEvery = pr.GetValue(evalEvery), CheckpointEvery = pr.GetValue(ckptEvery), Seed = pr.GetValue(seed),
                StopAfterSteps = pr.GetValue(stopAfter),
            };
            options.Validate();
            bool doResume = pr.GetValue(resume);
            if (doResume && !Trainer.HasCheckpoint(dir))
                throw new ArgumentException($"--resume: {dir} has no checkpoint");
            using var dataset = TokenDataset.Open(pr.GetValue(data)!);
            var (m, tokenizer) = ModelDirectory.Load(dir, requireWeights: false);
            using var _ = m;
            if (dataset.Manifest.Tokenizer != m.Config.TokenizerKind)
                throw new ArgumentException($"dataset was tokenized with '{dataset.Manifest.Tokenizer}' but the model uses '{m.Config.TokenizerKind}'");
            var result = TrainUi.Run(m, dataset, options, dir, doResume, "train");
            ModelDirectory.Save(m, tokenizer, dir);
            AnsiConsole.MarkupLine($"Saved [green]{Markup.Escape(dir)}[/] at step {result.FinalStep}: loss {result.LastLoss:F4}" +
                (result.LastEvalLoss is { } e ? $", validation loss {e:F4} (perplexity {Math.Exp(e):F2})" : "") + ".");
            return result.Interrupted ? Cli.ExitInterrupted : 0;
        }));
        return cmd;
    }
}
