using HybridSharp.Data.Corpus;
using HybridSharp.Models;
using HybridSharp.Training;
using Spectre.Console;

namespace HybridSharp.Cli;

/// <summary>Runs the trainer under a Spectre.Console progress bar (loss, tokens/s, ETA) with Ctrl-C → checkpoint.</summary>
internal static class TrainUi
{
    public static TrainResult Run(CausalLM model, TokenDataset data, TrainerOptions options, string outDir, bool resume, string title) =>
        Run(new Trainer(model, data, options, outDir), options, resume, title);

    public static TrainResult Run(Trainer trainer, TrainerOptions options, bool resume, string title) =>
        Run((cancel, progress, log) => trainer.Run(resume, cancel, progress, log), options.Steps, title);

    /// <summary>Runs <paramref name="train"/> (anything that drives a <see cref="Trainer"/>) under the progress display.</summary>
    /// <param name="resumeHint">How the user continues after Ctrl-C (default: rerun with --resume).</param>
    public static TrainResult Run(Func<CancellationToken, Action<TrainProgress>, Action<string>, TrainResult> train, int totalSteps, string title,
        string resumeHint = "Continue with --resume.")
    {
        using var cts = Cli.CancelOnStopSignal("saving a checkpoint, then exiting");
        TrainResult? result = null;
        var messages = new List<string>();
        bool interactive = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        if (interactive)
        {
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(title), maxValue: totalSteps);
                    double? lastEval = null;
                    result = train(cts.Token, p =>
                    {
                        lastEval = p.EvalLoss ?? lastEval;
                        task.MaxValue = p.TotalSteps;
                        task.Value = p.Step;
                        var eval = lastEval is { } e ? $" val {e:F3}" : "";
                        task.Description = Markup.Escape($"{title} step {p.Step}/{p.TotalSteps} loss {p.Loss:F3}{eval} {p.TokensPerSecond:N0} tok/s");
                    }, messages.Add);
                });
        }
        else
        {
            int every = Math.Max(1, totalSteps / 20);
            result = train(cts.Token, p =>
            {
                if (p.Step % every == 0 || p.EvalLoss is not null || p.Step == p.TotalSteps)
                    Console.WriteLine($"{title} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4}{(p.EvalLoss is { } e ? $" val {e:F4}" : "")} lr {p.LearningRate:G3} {p.TokensPerSecond:N0} tok/s eta {p.Eta:hh\\:mm\\:ss}");
            }, messages.Add);
        }
        foreach (var m in messages) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]");
        if (result!.Interrupted)
            AnsiConsole.MarkupLine($"[yellow]Stopped at step {result.FinalStep}; checkpoint saved. {Markup.Escape(resumeHint)}[/]");
        return result;
    }
}
