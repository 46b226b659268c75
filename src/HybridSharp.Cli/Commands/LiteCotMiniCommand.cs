using System.CommandLine;
using HybridSharp.Experiments.LiteCot;
using HybridSharp.Tasks;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

/// <summary><c>hybrid litecot-mini</c>: the whole LiteCoT comparison in miniature (docs/litecot-mini.md) as one resumable command.</summary>
internal static class LiteCotMiniCommand
{
    public static Command Create()
    {
        var d = new LiteCotMiniOptions { OutputDirectory = "" };
        var output = Cli.OptNoDefault<string>("--out", "run folder: data/, distill/, base/, long/, concise/, eval/, report.md, report.csv; rerunning resumes", "-o");
        output.Required = true;
        var teacherUrl = Cli.OptNoDefault<string?>("--teacher-url", "OpenAI-compatible teacher base URL (default: the in-process offline rewriter, not an LLM)");
        var teacherModel = Cli.OptNoDefault<string?>("--teacher-model", "teacher model name (with --teacher-url)");
        var keyEnv = Cli.Opt("--api-key-env", "environment variable holding the teacher's API key (with --teacher-url)", "OPENAI_API_KEY");
        var preset = Cli.Opt("--preset", "model preset for the base model", d.Preset, "-p");
        var train = Cli.Opt("--train", "training problems", d.Data.TrainCount);
        var eval = Cli.Opt("--eval", "held-out evaluation problems", d.Data.EvalCount);
        var minDiff = Cli.Opt("--min-difficulty", "fewest operations per problem", d.Data.MinDifficulty);
        var maxDiff = Cli.Opt("--max-difficulty", "most operations per problem", d.Data.MaxDifficulty);
        var dataSeed = Cli.Opt("--data-seed", "generator seed", d.Data.Seed);
        var steps = Cli.Opt("--steps", "optimizer steps per arm (equal-steps budget, the default)", d.Steps);
        var pretrainSteps = Cli.Opt("--pretrain-steps", "pretraining steps of the shared base model (16 × 256 tokens per step; 0 = none)", d.PretrainSteps);
        var pretrainProblems = Cli.Opt("--pretrain-problems", "pretrain on word problems with their bare equations as well as on equation chains (false = chains only)", d.PretrainOnProblems);
        var epochs = Cli.OptNoDefault<double?>("--epochs", "passes over each arm's data instead of --steps (equal-epochs budget)");
        var batch = Cli.Opt("--batch-size", "examples per step", d.BatchSize, "-b");
        var lr = Cli.Opt("--lr", "peak learning rate", d.LearningRate);
        var maxLength = Cli.Opt("--max-length", "tokens per training example", d.MaxLength);
        var maxTokens = Cli.Opt("--max-tokens", "generated tokens at most per evaluation problem (greedy)", d.EvalMaxTokens, "-n");
        var evalBatch = Cli.Opt("--eval-batch-size", "prompts generated together", d.EvalBatchSize);
        var seed = Cli.Opt("--seed", "model initialisation and SFT data-order seed", d.Seed);
        var cmd = new Command("litecot-mini",
            "LiteCoT in miniature: synthetic data, difficulty-aware rewrite of the long traces (distill), long vs concise SFT from one base model, greedy evaluation by difficulty, report.md.")
        {
            output, teacherUrl, teacherModel, keyEnv, preset, train, eval, minDiff, maxDiff, dataSeed, steps, pretrainSteps, pretrainProblems, epochs, batch, lr, maxLength, maxTokens, evalBatch, seed,
        };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            Uri? url = null;
            if (pr.GetValue(teacherUrl) is { } u && !Uri.TryCreate(u, UriKind.Absolute, out url))
                throw new ArgumentException($"--teacher-url: '{u}' is not an absolute URL");
            if (url is null && pr.GetValue(teacherModel) is not null) throw new ArgumentException("--teacher-model needs --teacher-url");
            var key = url is null ? null : Environment.GetEnvironmentVariable(pr.GetValue(keyEnv)!);
            var options = new LiteCotMiniOptions
            {
                OutputDirectory = pr.GetValue(output)!,
                TeacherUrl = url, TeacherModel = pr.GetValue(teacherModel), TeacherApiKey = string.IsNullOrEmpty(key) ? null : key,
                Preset = pr.GetValue(preset)!,
                Data = new ReasoningDataOptions
                {
                    TrainCount = pr.GetValue(train), EvalCount = pr.GetValue(eval), Seed = pr.GetValue(dataSeed),
                    MinDifficulty = pr.GetValue(minDiff), MaxDifficulty = pr.GetValue(maxDiff),
                },
                Steps = pr.GetValue(steps), PretrainSteps = pr.GetValue(pretrainSteps), PretrainOnProblems = pr.GetValue(pretrainProblems), Epochs = pr.GetValue(epochs), BatchSize = pr.GetValue(batch), LearningRate = pr.GetValue(lr),
                MaxLength = pr.GetValue(maxLength), EvalMaxTokens = pr.GetValue(maxTokens), EvalBatchSize = pr.GetValue(evalBatch), Seed = pr.GetValue(seed),
            };
            using var cts = Cli.CancelOnStopSignal("stopping; finished stages and checkpoints are kept, rerun the same command to resume");
            if (url is null) AnsiConsole.MarkupLine($"[yellow]{Markup.Escape("note: " + LiteCotMini.Disclosure)}[/]");
            try
            {
                var report = LiteCotMini.Run(options, line => Console.WriteLine(line), cts.Token);
                Console.WriteLine();
                Console.WriteLine(File.ReadAllText(report));
                return 0;
            }
            catch (OperationCanceledException e)
            {
                Cli.Error(e.Message);
                return Cli.ExitInterrupted;
            }
        }));
        return cmd;
    }
}
