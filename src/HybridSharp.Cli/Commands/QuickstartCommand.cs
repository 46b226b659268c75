using System.CommandLine;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using HybridSharp.Eval;
using HybridSharp.Inference;
using HybridSharp.IO;
using HybridSharp.Models;
using HybridSharp.Tasks;
using HybridSharp.Training;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

/// <summary>
/// The embedded default job: generate the synthetic arithmetic corpus, train a small model on it (about five
/// minutes on 2 cores), save the model directory and loss plot, then report held-out accuracy and a sample.
/// Rerunning resumes an interrupted run, or re-evaluates a finished one (--fresh starts over).
/// </summary>
internal static class QuickstartCommand
{
    public static Command Create()
    {
        var output = Cli.Opt("--out", "output folder (dataset in data/, model in model/)", Path.Combine("runs", "quickstart"), "-o");
        var preset = Cli.Opt("--preset", "model preset (default: the TransXSSM hybrid, which trained to lower perplexity than the Transformer at equal size; see BENCHMARKS.md)", "transxssm-tiny");
        var steps = Cli.Opt("--steps", "optimizer steps", 750);
        var minutes = Cli.Opt("--minutes", "stop training after this many minutes even if steps remain", 6.0);
        var problems = Cli.Opt("--problems", "synthetic training problems", 60_000);
        var maxDiff = Cli.Opt("--max-difficulty", "most operations per problem", 3);
        var evalCount = Cli.Opt("--eval-problems", "held-out problems to evaluate", 96);
        var fresh = Cli.Opt("--fresh", "delete earlier quickstart output and start over", false);
        var cmd = new Command("quickstart", "Train a small model on synthetic arithmetic word problems, then evaluate it (about 5 minutes on 2 cores).")
            { output, preset, steps, minutes, problems, maxDiff, evalCount, fresh };
        cmd.SetAction(pr => Cli.Guard(() => Run(pr.GetValue(output)!, pr.GetValue(preset)!, pr.GetValue(steps), pr.GetValue(minutes),
            pr.GetValue(problems), pr.GetValue(maxDiff), pr.GetValue(evalCount), pr.GetValue(fresh))));
        return cmd;
    }

    private static int Run(string outDir, string presetName, int steps, double minutes, int problemCount, int maxDifficulty, int evalCount, bool fresh)
    {
        if (steps <= 0 || minutes <= 0 || problemCount < 10 || evalCount < 0 || maxDifficulty < 1)
            throw new ArgumentException("need --steps > 0, --minutes > 0, --problems ≥ 10, --eval-problems ≥ 0 and --max-difficulty ≥ 1");
        var cfg = Presets.Get(presetName);
        var dataDir = Path.Combine(outDir, "data");
        var modelDir = Path.Combine(outDir, "model");
        if (fresh && Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);
        var tokenizer = new ByteTokenizer();

        AnsiConsole.Write(new Rule("[bold]HybridSharp quickstart[/]").LeftJustified());
        if (!File.Exists(Path.Combine(dataDir, DatasetManifest.FileName)))
        {
            AnsiConsole.MarkupLine($"1. Generating {problemCount:N0} arithmetic word problems (1–{maxDifficulty} operations, concise step-by-step solutions)…");
            new CorpusBuilder(tokenizer, new CorpusBuilderOptions { ValidationFraction = 0.02, Seed = 7 })
                .AddDocuments(ArithmeticCorpus.Documents(tokenizer, problemCount, seed: 7, 1, maxDifficulty, SolutionStyle.Concise), "arithmetic")
                .Build(dataDir);
        }
        using var dataset = TokenDataset.Open(dataDir);
        AnsiConsole.MarkupLine($"   dataset [green]{Markup.Escape(dataDir)}[/]: {dataset.Manifest.TrainTokens:N0} train / {dataset.Manifest.ValidationTokens:N0} validation byte tokens");

        var options = new TrainerOptions
        {
            Steps = steps, BatchSize = 16, SeqLen = 256, LearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = 60,
            EvalEvery = Math.Max(1, steps / 6), CheckpointEvery = Math.Max(1, steps / 6), EvalBatches = 8,
            TimeBudget = TimeSpan.FromMinutes(minutes), Seed = 7,
        };

        var doneMarker = Path.Combine(outDir, "trained.json");
        bool finished = File.Exists(doneMarker) && File.Exists(Path.Combine(modelDir, ModelDirectory.WeightsFile));
        CausalLM model;
        if (finished)
        {
            AnsiConsole.MarkupLine($"2. Model in [green]{Markup.Escape(modelDir)}[/] is already trained; evaluating it (use --fresh to retrain).");
            (model, _) = ModelDirectory.Load(modelDir);
        }
        else
        {
            bool resume = Trainer.HasCheckpoint(modelDir);
            if (!ModelDirectory.IsModelDirectory(modelDir))
            {
                using var init = new CausalLM(cfg, seed: 7);
                ModelDirectory.Save(init, tokenizer, modelDir);
            }
            (model, _) = ModelDirectory.Load(modelDir, requireWeights: false);
            AnsiConsole.MarkupLine($"2. {(resume ? "Resuming" : "Training")} [bold]{presetName}[/] ({model.ParameterCount():N0} parameters) for up to {steps} steps × {options.BatchSize}×{options.SeqLen} tokens, at most {minutes:G} minutes…");
            var result = TrainUi.Run(model, dataset, options, modelDir, resume, "train");
            ModelDirectory.Save(model, tokenizer, modelDir);
            if (result.Interrupted) return Cli.ExitInterrupted;
            AtomicFile.WriteAllText(doneMarker, $"{{\"step\": {result.FinalStep}, \"tokens\": {result.Tokens}, \"loss\": {result.LastLoss:R}}}\n");
            AnsiConsole.MarkupLine($"   final loss {result.LastLoss:F3}" + (result.LastEvalLoss is { } e ? $", validation loss {e:F3} (perplexity {Math.Exp(e):F2})" : "") +
                $"; {result.Tokens:N0} tokens; loss plot [green]{Markup.Escape(Path.Combine(modelDir, Trainer.LossPlotFileName))}[/]");
        }

        using (model)
        {
            var generator = new TextGenerator(model, tokenizer);
            ArithmeticResult? sample = null;
            if (evalCount > 0)
            {
                AnsiConsole.MarkupLine($"3. Evaluating on {evalCount} held-out problems (greedy decoding)…");
                var report = ArithmeticEval.Run(generator, ArithmeticEval.HeldOut(evalCount, 1, maxDifficulty), batchSize: 16, maxNewTokens: 120);
                sample = report.Results.OrderBy(x => x.Problem.Difficulty).First(); // the first problem of the easiest level
                var table = new Table().AddColumn("operations").AddColumn(new TableColumn("problems").RightAligned())
                    .AddColumn(new TableColumn("accuracy").RightAligned()).AddColumn(new TableColumn("mean tokens").RightAligned());
                foreach (var d in report.ByDifficulty)
                    table.AddRow(d.Difficulty.ToString(), d.Count.ToString(), $"{d.Accuracy:P0}", $"{d.MeanGeneratedTokens:F0}");
                table.AddRow("[bold]all[/]", report.Count.ToString(), $"[bold]{report.Accuracy:P1}[/]", $"{report.MeanGeneratedTokens:F0}");
                AnsiConsole.Write(table);
                AtomicFile.WriteAllText(Path.Combine(outDir, "arithmetic_eval.md"), report.ToMarkdown());
            }
            if (sample is null)
            {
                var problem = ArithmeticEval.HeldOut(1, 1, maxDifficulty)[0];
                var prompt = ArithmeticFormat.Prompt(problem);
                var r = generator.Generate(prompt, new GenerationOptions { MaxNewTokens = 120, Sampling = SamplingOptions.Greedy });
                sample = ArithmeticEvaluator.Score(problem, prompt, new Completion(r.Text, r.GeneratedTokens));
            }
            AnsiConsole.Write(new Rule("sample from the held-out set").LeftJustified());
            Console.WriteLine(sample.Prompt + sample.CompletionText);
            AnsiConsole.MarkupLine(sample.Correct
                ? $"[green]correct[/] [grey](expected answer: {Markup.Escape(sample.Problem.Answer.ToString())})[/]"
                : $"[red]wrong[/] [grey](expected answer: {Markup.Escape(sample.Problem.Answer.ToString())}, extracted: {Markup.Escape(sample.ExtractedAnswer ?? "none")})[/]");
            AnsiConsole.MarkupLine($"Next: [blue]dotnet run --project src/HybridSharp.Cli -c Release -- generate --model {Markup.Escape(modelDir)} --prompt \"Question: ...\"[/]");
        }
        return 0;
    }
}
