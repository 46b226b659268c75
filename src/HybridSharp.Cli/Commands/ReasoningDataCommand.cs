using System.CommandLine;
using HybridSharp.Tasks;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

internal static class ReasoningDataCommand
{
    public static Command Create()
    {
        var output = Cli.OptNoDefault<string>("--out", "folder to write sft_long.jsonl, sft_concise_reference.jsonl, distill_problems.jsonl, eval.jsonl, manifest.json", "-o");
        output.Required = true;
        var d = new ReasoningDataOptions();
        var train = Cli.Opt("--train", "training problems", d.TrainCount);
        var eval = Cli.Opt("--eval", "held-out evaluation problems", d.EvalCount);
        var seed = Cli.Opt("--seed", "generator seed", d.Seed);
        var minDiff = Cli.Opt("--min-difficulty", "fewest operations per problem", d.MinDifficulty);
        var maxDiff = Cli.Opt("--max-difficulty", "most operations per problem", d.MaxDifficulty);
        var cmd = new Command("reasoning-data", "Write the miniature LiteCoT data from synthetic arithmetic: long-CoT SFT set, distillation problems, held-out eval set.")
            { output, train, eval, seed, minDiff, maxDiff };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var options = new ReasoningDataOptions
            {
                TrainCount = pr.GetValue(train), EvalCount = pr.GetValue(eval), Seed = pr.GetValue(seed),
                MinDifficulty = pr.GetValue(minDiff), MaxDifficulty = pr.GetValue(maxDiff),
            };
            var dir = pr.GetValue(output)!;
            var s = ReasoningDataBuilder.Write(dir, options);
            AnsiConsole.MarkupLine(Markup.Escape(
                $"Wrote {dir}: {s.Train} training problems (long CoT {s.MeanLongChars:F0} chars on average, concise reference {s.MeanConciseChars:F0}), {s.Eval} held-out problems" +
                (s.EvalCollisionsSkipped > 0 ? $" ({s.EvalCollisionsSkipped} duplicates of training questions skipped)" : "") + "."));
            return 0;
        }));
        return cmd;
    }
}
