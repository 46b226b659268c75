using HybridSharp.Runtime;
using System.Globalization;
using HybridSharp.Eval.Mqar;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

/// <summary>How <c>hybrid mqar</c> shows a sweep: progress per cell and step, the result lines and the summary table.</summary>
internal static class MqarConsole
{
    public static int ReportOnly(string outDir, MqarSweep sweep, MqarProtocol protocol, IReadOnlyList<string>? merge = null)
    {
        if (merge is { Count: > 0 })
        {
            Directory.CreateDirectory(outDir);
            int added = new MqarResultStore(outDir).MergeFrom(merge);
            Console.WriteLine($"merged {added} new results from {merge.Count} folder(s) into {Path.Combine(outDir, MqarResultStore.FileName)}");
        }
        if (!File.Exists(Path.Combine(outDir, MqarResultStore.FileName)))
            throw new ArgumentException($"no {MqarResultStore.FileName} in {outDir}");
        var runner = new MqarRunner(outDir);
        var cells = sweep.Cells(protocol.VocabSize, protocol.Mixture);
        int done = cells.Count(c => runner.Store.Contains(c, protocol));
        if (runner.Store.All.All(r => r.Protocol != protocol.Tag))
            throw new ArgumentException($"no results in {outDir} match this protocol ({protocol.Tag}); give the flags the sweep ran with");
        var files = runner.WriteSummaries(protocol);
        Console.WriteLine($"{done} of {cells.Count} cells of this grid are done; summaries rewritten in {outDir}");
        Console.WriteLine();
        Console.WriteLine(File.ReadAllText(files.Markdown));
        return 0;
    }

    public static int Run(string outDir, MqarSweep sweep, MqarProtocol protocol, WorkShard? shard = null)
    {
        int gridCells = sweep.Cells(protocol.VocabSize, protocol.Mixture).Count;
        if (gridCells == 0) throw new ArgumentException("no (T, K) pair satisfies 4·K ≤ T; adjust --seq-lens / --pairs");
        var cells = MqarRunner.ShardCells(sweep, protocol, shard);
        if (shard is not null) Console.WriteLine($"shard {shard}: {cells.Count} of the grid's {gridCells} cells");
        var runner = new MqarRunner(outDir);
        int done = cells.Count(c => runner.Store.Contains(c, protocol));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"MQAR: {cells.Count} cells ({done} already in {outDir}); per {(protocol.Mixture ? "T (mixture of its K values)" : "(T, K)")} {(protocol.TrainTokens is { } tt ? $"{tt:N0} training tokens" : $"{protocol.TrainExamples:N0} train examples")} × ≤ {protocol.Epochs} epochs, {protocol.TestExamples:N0} test examples{(protocol.TrainTokens is null ? $" ({protocol.ExampleFraction:G3} of the full protocol)" : "")}"));

        using var cts = Cli.CancelOnStopSignal("stopping after the current step (finished cells are kept)");
        MqarSweepOutcome outcome;
        bool interactive = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        if (interactive)
        {
            outcome = null!;
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var all = ctx.AddTask("cells", maxValue: cells.Count);
                    var current = ctx.AddTask("cell", maxValue: 1);
                    double? lastAcc = null;
                    outcome = runner.RunSweep(sweep, protocol, p =>
                    {
                        switch (p.Event)
                        {
                            case MqarEvent.Generating:
                                current.Description = Markup.Escape(p.Message ?? "generating");
                                break;
                            case MqarEvent.CellSkipped:
                                all.Increment(1);
                                break;
                            case MqarEvent.CellStarted:
                                lastAcc = null;
                                current.MaxValue = Math.Max(1, p.TotalSteps);
                                current.Value = 0;
                                break;
                            case MqarEvent.Step or MqarEvent.Epoch:
                                lastAcc = p.Accuracy ?? lastAcc;
                                current.Value = p.Step;
                                current.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                                    $"{p.Cell} epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F3}{(lastAcc is { } a ? $" acc {a:F3}" : "")}"));
                                break;
                            case MqarEvent.CellFinished:
                                all.Increment(1);
                                current.Value = current.MaxValue;
                                AnsiConsole.MarkupLine(Markup.Escape(FinishedLine(p.Result!)));
                                break;
                        }
                        all.Description = Markup.Escape($"cells {p.CellIndex + 1}/{p.CellCount}");
                    }, cts.Token, shard);
                });
        }
        else
        {
            outcome = runner.RunSweep(sweep, protocol, p =>
            {
                string prefix = $"[{p.CellIndex + 1}/{p.CellCount}]";
                switch (p.Event)
                {
                    case MqarEvent.Generating: Console.WriteLine($"{prefix} {p.Message}"); break;
                    case MqarEvent.CellSkipped: Console.WriteLine($"{prefix} {p.Cell}: done earlier, accuracy {p.Accuracy:F3}"); break;
                    case MqarEvent.CellStarted: Console.WriteLine($"{prefix} {p.Cell}: training (≤ {p.TotalSteps} steps)"); break;
                    // Redirected output has no progress bar: a line every tenth of the cell's steps, so long cells show life.
                    case MqarEvent.Step when p.TotalSteps >= 10 && p.Step % (p.TotalSteps / 10) == 0:
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{prefix} {p.Cell}: step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} ({DateTime.UtcNow:HH:mm:ss} UTC)"));
                        break;
                    case MqarEvent.Epoch:
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{prefix} {p.Cell}: epoch {p.Epoch}/{p.Epochs} step {p.Step} loss {p.Loss:F4} accuracy {p.Accuracy:F4}"));
                        break;
                    case MqarEvent.CellFinished:
                        Console.WriteLine($"{prefix} {FinishedLine(p.Result!)}");
                        HybridSharp.Runtime.NativeAllocator.Trim();   // do not keep one cell's peak resident for the next
                        break;
                }
            }, cts.Token, shard);
        }

        if (outcome.Files is { } f)
        {
            AnsiConsole.MarkupLine($"Results in [green]{Markup.Escape(outDir)}[/]: {Markup.Escape(Path.GetFileName(f.Csv))}, {Markup.Escape(Path.GetFileName(f.Markdown))}" +
                (f.Png is null ? "" : $", {Markup.Escape(Path.GetFileName(f.Png))}"));
            Console.WriteLine();
            Console.WriteLine(File.ReadAllText(f.Markdown));
        }
        if (outcome.Interrupted)
        {
            AnsiConsole.MarkupLine($"[yellow]Stopped: {outcome.Trained} cells trained this run; rerun the same command to continue.[/]");
            return Cli.ExitInterrupted;
        }
        AnsiConsole.MarkupLine($"{outcome.Trained} cells trained, {outcome.Skipped} skipped (already done).");
        return 0;
    }

    private static string FinishedLine(MqarCellResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.ModelLabel} d{r.DModel} T{r.SeqLen} K{(r.NumKvPairs == MqarCell.MixedPairs ? string.Join("/", r.Slices.Select(s => s.NumKvPairs)) : r.NumKvPairs)} lr {r.LearningRate:G3}: accuracy {r.Accuracy:F4}{(r.Slices.Count > 1 ? " (" + string.Join(", ", r.Slices.Select(s => $"K{s.NumKvPairs} {s.Accuracy:F3}")) + ")" : "")} after {r.EpochsRun} epochs / {r.Steps} steps" +
        $"{(r.EarlyStopped ? " (early stop)" : "")}{(r.Diverged ? " (diverged)" : "")}, {r.Seconds:F0} s, {r.TrainTokensPerSecond:N0} tok/s");
}
