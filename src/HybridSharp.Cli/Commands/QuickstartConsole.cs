using System.Diagnostics;
using HybridSharp.Config;
using HybridSharp.IO;
using HybridSharp.Models;
using HybridSharp.Recipes;
using HybridSharp.Tasks;
using HybridSharp.Training;
using Spectre.Console;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

/// <summary>How <c>hybrid quickstart</c> shows its stages: data, training progress, evaluation, the sample and the comparison.</summary>
internal static class QuickstartConsole
{
    private sealed record Arm(string Preset, long Parameters, QuickstartRecipe.TrainingSummary Summary, ArithmeticReport? Report, double DecodeTokensPerSecond);

    public static int Run(string outDir, QuickstartOptions options, bool compare, bool fresh)
    {
        var recipe = new QuickstartRecipe(options);
        var dataDir = Path.Combine(outDir, "data");
        var modelDir = Path.Combine(outDir, "model");
        var baselineDir = Path.Combine(outDir, "baseline");
        if (fresh && Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);

        AnsiConsole.Write(new Rule("[bold]HybridSharp quickstart[/]").LeftJustified());
        var clock = Stopwatch.StartNew();
        AnsiConsole.MarkupLine($"1. Generating {options.Problems:N0} arithmetic word problems (1–{options.MaxDifficulty} operations, counts below {options.Arithmetic.MaxValue + 1}, concise step-by-step solutions)…");
        var data = recipe.BuildData(dataDir);
        AnsiConsole.MarkupLine($"   [green]{Markup.Escape(Path.Combine(dataDir, "problems.jsonl"))}[/]: {recipe.TrainTokens:N0} byte tokens, the loss on the solutions only ({clock.Elapsed.TotalSeconds:F1} s)");

        var model = TrainOrLoad(recipe, data, modelDir, "2. ");
        if (model is null) return Cli.ExitInterrupted;
        int context = QuickstartRecipe.DecodeContext(Presets.Get(options.Preset)); // the baseline shares the hybrid's positions
        Arm hybrid;
        using (model)
        {
            var report = Evaluate(recipe, model, outDir, "3. ");
            if (report is not null) PrintSample(QuickstartRecipe.Sample(report));
            hybrid = new Arm(options.Preset, model.ParameterCount(), QuickstartRecipe.ReadSummary(modelDir)!, report,
                compare ? QuickstartRecipe.DecodeTokensPerSecond(model, recipe.Tokenizer, context) : 0);
        }
        if (!compare)
        {
            AnsiConsole.MarkupLine($"Next: [blue]dotnet run --project src/HybridSharp.Cli -c Release -- generate --model {Markup.Escape(modelDir)} --prompt $'Question: …\\nAnswer: '[/]" +
                " · compare with the Transformer of equal size: [blue]quickstart --compare[/]");
            return 0;
        }

        var baselineConfig = QuickstartRecipe.EqualSizeTransformer(Presets.Get(options.Preset));
        CausalLM? baseline;
        if (QuickstartRecipe.IsTrained(baselineDir))
        {
            AnsiConsole.MarkupLine($"4. Baseline in [green]{Markup.Escape(baselineDir)}[/] is already trained; evaluating it.");
            (baseline, _) = ModelDirectory.Load(baselineDir);
        }
        else
        {
            var wall = TimeSpan.FromSeconds(hybrid.Summary.Seconds);
            AnsiConsole.MarkupLine($"4. Training the Transformer of equal size (attention ×{baselineConfig.NumHiddenLayers}, SwiGLU {baselineConfig.IntermediateSize}) on the same problems for the same {wall.TotalMinutes:F1} minutes…");
            TrainResult? result = null;
            (CausalLM Model, TrainResult Result, int Steps)? trained = null;
            result = TrainUi.Run((cancel, progress, _) =>
            {
                trained = recipe.TrainForWallTime(baselineConfig, data, baselineDir, wall, cancel, progress);
                return trained.Value.Result;
            }, options.Steps, "baseline", "Run the same command again to continue.");
            baseline = trained?.Model;
            if (result.Interrupted) { baseline?.Dispose(); return Cli.ExitInterrupted; }
        }
        Arm transformer;
        using (baseline!)
        {
            var report = Evaluate(recipe, baseline!, null, "5. ");
            transformer = new Arm("equal-size Transformer", baseline!.ParameterCount(), QuickstartRecipe.ReadSummary(baselineDir)!, report,
                QuickstartRecipe.DecodeTokensPerSecond(baseline!, recipe.Tokenizer, context));
        }
        PrintComparison(hybrid, transformer, context);
        return 0;
    }


    /// <summary>Loads the finished model, or trains (resuming a checkpoint); null when Ctrl-C stopped training.</summary>
    private static CausalLM? TrainOrLoad(QuickstartRecipe recipe, Sft.SftBatchSource data, string modelDir, string step)
    {
        if (QuickstartRecipe.IsTrained(modelDir))
        {
            AnsiConsole.MarkupLine($"{step}Model in [green]{Markup.Escape(modelDir)}[/] is already trained; evaluating it (use --fresh to retrain).");
            return ModelDirectory.Load(modelDir).Model;
        }
        var o = recipe.Options;
        bool resume = Trainer.HasCheckpoint(modelDir);
        using (var probe = new CausalLM(Presets.Get(o.Preset), seed: o.Seed))
            AnsiConsole.MarkupLine($"{step}{(resume ? "Resuming" : "Training")} [bold]{Markup.Escape(o.Preset)}[/] ({probe.ParameterCount():N0} parameters) for {o.Steps} steps of {o.BatchSize} problems, at most {o.Minutes:G} minutes…");
        CausalLM? model = null;
        var result = TrainUi.Run((cancel, progress, log) =>
        {
            (model, var r) = recipe.Train(data, modelDir, cancel, progress, log);
            return r;
        }, o.Steps, "train", "Run the same command again to continue.");
        if (result.Interrupted) { model?.Dispose(); return null; }
        var summary = QuickstartRecipe.ReadSummary(modelDir)!;
        AnsiConsole.MarkupLine($"   {summary.Step} steps in {summary.Seconds / 60:F1} min ({summary.TokensPerSecond:N0} tok/s); final loss {summary.Loss:F3}" +
            (summary.ValidationLoss is { } e ? $", validation loss {e:F3}" : "") +
            $" (nats per solution byte); loss plot [green]{Markup.Escape(Path.Combine(modelDir, Trainer.LossPlotFileName))}[/]" +
            (summary.Step < o.Steps ? $"\n   [yellow]stopped by --minutes before step {o.Steps}: the learning rate had not decayed; this machine is slower than the one the defaults were set on[/]" : ""));
        return model;
    }

    private static ArithmeticReport? Evaluate(QuickstartRecipe recipe, CausalLM model, string? outDir, string step)
    {
        if (recipe.Options.EvalProblems == 0) return null;
        AnsiConsole.MarkupLine($"{step}Evaluating on {recipe.Options.EvalProblems} held-out problems (greedy decoding)…");
        var report = recipe.Evaluate(model);
        var table = new Table().AddColumn("operations").AddColumn(new TableColumn("problems").RightAligned())
            .AddColumn(new TableColumn("accuracy").RightAligned()).AddColumn(new TableColumn("mean tokens").RightAligned());
        foreach (var d in report.ByDifficulty)
            table.AddRow(d.Difficulty.ToString(), d.Count.ToString(), $"{d.Accuracy:P0}", $"{d.MeanGeneratedTokens:F0}");
        table.AddRow("[bold]all[/]", report.Count.ToString(), $"[bold]{report.Accuracy:P1}[/]", $"{report.MeanGeneratedTokens:F0}");
        AnsiConsole.Write(table);
        if (outDir is not null) AtomicFile.WriteAllText(Path.Combine(outDir, "arithmetic_eval.md"), report.ToMarkdown());
        return report;
    }

    private static void PrintSample(ArithmeticResult sample)
    {
        AnsiConsole.Write(new Rule("sample from the held-out set").LeftJustified());
        Console.WriteLine(sample.Prompt + sample.CompletionText);
        AnsiConsole.MarkupLine(sample.Correct
            ? $"[green]correct[/] [grey](expected answer: {Markup.Escape(sample.Problem.Answer.ToString())})[/]"
            : $"[red]wrong[/] [grey](expected answer: {Markup.Escape(sample.Problem.Answer.ToString())}, extracted: {Markup.Escape(sample.ExtractedAnswer ?? "none")})[/]");
    }

    private static void PrintComparison(Arm a, Arm b, int context)
    {
        var table = new Table().Title("same problems, same wall time").AddColumn("")
            .AddColumn(new TableColumn($"{Markup.Escape(a.Preset)}").RightAligned()).AddColumn(new TableColumn(Markup.Escape(b.Preset)).RightAligned());
        void Row(string name, string x, string y) => table.AddRow(name, x, y);
        Row("parameters", $"{a.Parameters:N0}", $"{b.Parameters:N0}");
        Row("training time", $"{a.Summary.Seconds / 60:F1} min", $"{b.Summary.Seconds / 60:F1} min");
        Row("steps", $"{a.Summary.Step:N0}", $"{b.Summary.Step:N0}");
        Row("training tok/s", $"{a.Summary.TokensPerSecond:N0}", $"{b.Summary.TokensPerSecond:N0}");
        Row("final loss", $"{a.Summary.Loss:F3}", $"{b.Summary.Loss:F3}");
        Row("validation loss", a.Summary.ValidationLoss is { } va ? $"{va:F3}" : "–", b.Summary.ValidationLoss is { } vb ? $"{vb:F3}" : "–");
        if (a.Report is not null && b.Report is not null)
        {
            foreach (var d in a.Report.ByDifficulty)
            {
                var other = b.Report.ByDifficulty.FirstOrDefault(x => x.Difficulty == d.Difficulty);
                Row($"accuracy, {d.Difficulty} operation{(d.Difficulty == 1 ? "" : "s")}", $"{d.Accuracy:P0}", other is null ? "–" : $"{other.Accuracy:P0}");
            }
            Row("[bold]accuracy[/]", $"[bold]{a.Report.Accuracy:P1}[/]", $"[bold]{b.Report.Accuracy:P1}[/]");
        }
        Row($"decode tok/s at {context:N0} tokens", $"{a.DecodeTokensPerSecond:N0}", $"{b.DecodeTokensPerSecond:N0}");
        AnsiConsole.Write(table);
    }
}
