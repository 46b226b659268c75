using System.CommandLine;
using System.Globalization;
using HybridSharp.Eval.Mqar;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

/// <summary>
/// <c>hybrid mqar</c>: the Zoology multi-query associative recall sweep — mixers × d_model ×
/// (T, K) × learning rates, best LR kept — with resumable per-cell results and CSV / markdown / PNG summaries.
/// </summary>
internal static class MqarCommand
{
    public static Command Create()
    {
        var output = Cli.Opt("--out", "results folder (results.jsonl, mqar.csv, mqar.md, mqar.png); reruns skip finished cells", Path.Combine("results", "mqar"), "-o");
        var mixers = Cli.Opt("--mixers", $"comma-separated mixers: {string.Join(", ", MqarModels.Mixers)}, dma-w<N> (DMA keeping N keys)", "attention,dma,ssd,hybrid");
        var dModels = Cli.Opt("--d-models", "comma-separated model widths", "64,128");
        var seqLens = Cli.Opt("--seq-lens", "comma-separated sequence lengths T", "128,256,512");
        var pairs = Cli.Opt("--pairs", "comma-separated key-value pair counts K (pairs with 4·K > T are skipped)", "8,16,32,64");
        var lrs = Cli.Opt("--lrs", "comma-separated learning rates (≥ 3; the best per point is reported)", "1e-4,4.6e-4,2.2e-3,1e-2");
        var mlp = Cli.Opt("--mlp", "give each layer a SwiGLU FFN (width 4·d)", false);
        var noMlp = Cli.Opt("--no-mlp", "no FFN: mixer-only layers as in Zoology Figure 2 (the default)", false);
        var budget = Cli.Opt("--budget", "fraction f of the full protocol's training (100,000 examples × 64 epochs) per cell: ⌈64·f⌉ epochs over f·6.4M/epochs examples; 1 = full", 0.04);
        var seed = Cli.Opt("--seed", "data and initialisation seed", 0L);
        var epochs = Cli.OptNoDefault<int?>("--epochs", "override the number of epochs");
        var trainExamples = Cli.OptNoDefault<int?>("--train-examples", "override the training examples per (T, K)");
        var testExamples = Cli.OptNoDefault<int?>("--test-examples", "override the test examples per (T, K)");
        var batch = Cli.OptNoDefault<int?>("--batch-size", "fixed batch size (default: 512 for T ≤ 128, 256 for T 256, 128 above)");
        var trainTokens = Cli.OptNoDefault<long?>("--train-tokens", "training tokens per model: ⌈N / T⌉ examples at length T, the same compute at every T (overrides --train-examples)");
        var batchTokens = Cli.OptNoDefault<int?>("--batch-tokens", "tokens per batch: batch size ⌊N / T⌋, the same cost per step at every T (exclusive with --batch-size)");
        var mixture = Cli.Opt("--mixture", "one model per T trained on a mixture of every K at that T (Zoology's original MQAR layout), tested per (T, K); --train-examples is then per T", false);
        var reportOnly = Cli.Opt("--report-only", "train nothing: rewrite mqar.csv / mqar.md / mqar.png from the results already in --out (e.g. results.jsonl files merged from several machines)", false);
        var vocab = Cli.Opt("--vocab", "vocabulary size V (keys from [1, V/2), values from [V/2, V))", MqarSpec.DefaultVocab);
        var randomFill = Cli.Opt("--random-non-queries", "fill non-query positions with random tokens (Zoology's generator default; Figure 2 uses 0)", false);
        var cmd = new Command("mqar", "Multi-query associative recall sweep (Zoology protocol, CPU budget): accuracy per mixer × d_model × T × K.")
            { output, mixers, dModels, seqLens, pairs, lrs, mlp, noMlp, budget, seed, epochs, trainExamples, testExamples, batch, trainTokens, batchTokens, mixture, reportOnly, vocab, randomFill };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            if (pr.GetValue(mlp) && pr.GetValue(noMlp)) throw new ArgumentException("give either --mlp or --no-mlp, not both");
            var sweep = new MqarSweep(
                ParseList(pr.GetValue(mixers)!, "--mixers", s => s),
                ParseList(pr.GetValue(dModels)!, "--d-models", s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)),
                ParseList(pr.GetValue(seqLens)!, "--seq-lens", s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)),
                ParseList(pr.GetValue(pairs)!, "--pairs", s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)),
                ParseList(pr.GetValue(lrs)!, "--lrs", s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)),
                pr.GetValue(mlp));
            var protocol = MqarProtocol.FromBudget(pr.GetValue(budget), pr.GetValue(seed));
            protocol = protocol with
            {
                Epochs = pr.GetValue(epochs) ?? protocol.Epochs,
                TrainExamples = pr.GetValue(trainExamples) ?? protocol.TrainExamples,
                TestExamples = pr.GetValue(testExamples) ?? protocol.TestExamples,
                BatchSize = pr.GetValue(batch),
                BatchTokens = pr.GetValue(batchTokens),
                TrainTokens = pr.GetValue(trainTokens),
                Mixture = pr.GetValue(mixture),
                VocabSize = pr.GetValue(vocab),
                RandomNonQueries = pr.GetValue(randomFill),
            };
            protocol.Validate();
            sweep.Validate();
            if (sweep.LearningRates.Distinct().Count() < 3)
                Console.WriteLine("note: fewer than 3 learning rates; SSM-type mixers succeed only in a narrow LR window");
            return pr.GetValue(reportOnly) ? ReportOnly(pr.GetValue(output)!, sweep, protocol) : Run(pr.GetValue(output)!, sweep, protocol);
        }));
        return cmd;
    }

    private static List<T> ParseList<T>(string text, string option, Func<string, T> parse)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException($"{option} needs at least one value");
        var list = new List<T>();
        foreach (var p in parts)
        {
            try { list.Add(parse(p)); }
            catch (FormatException) { throw new ArgumentException($"{option}: '{p}' is not a valid value"); }
            catch (OverflowException) { throw new ArgumentException($"{option}: '{p}' is out of range"); }
        }
        return list;
    }

    private static int ReportOnly(string outDir, MqarSweep sweep, MqarProtocol protocol)
    {
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

    private static int Run(string outDir, MqarSweep sweep, MqarProtocol protocol)
    {
        var cells = sweep.Cells(protocol.VocabSize, protocol.Mixture);
        if (cells.Count == 0) throw new ArgumentException("no (T, K) pair satisfies 4·K ≤ T; adjust --seq-lens / --pairs");
        var runner = new MqarRunner(outDir);
        int done = cells.Count(c => runner.Store.Contains(c, protocol));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"MQAR: {cells.Count} cells ({done} already in {outDir}); per {(protocol.Mixture ? "T (mixture of its K values)" : "(T, K)")} {(protocol.TrainTokens is { } tt ? $"{tt:N0} training tokens" : $"{protocol.TrainExamples:N0} train examples")} × ≤ {protocol.Epochs} epochs, {protocol.TestExamples:N0} test examples{(protocol.TrainTokens is null ? $" ({protocol.ExampleFraction:G3} of the full protocol)" : "")}"));

        using var cts = Cli.CancelOnCtrlC("stopping after the current step (finished cells are kept)");
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
                    }, cts.Token);
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
            }, cts.Token);
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
