using System.CommandLine;
using HybridSharp.Config;
using HybridSharp.Recipes;

namespace HybridSharp.Cli.Commands;

/// <summary>
/// The default job (<see cref="QuickstartRecipe"/>): generate arithmetic word problems, train the TransXSSM hybrid on
/// them (about five minutes on 2 cores), then report held-out accuracy and a sample marked correct or wrong. Rerunning
/// resumes an interrupted run or re-evaluates a finished one (--fresh starts over); --compare also trains the
/// Transformer of equal size for the same time and prints both side by side.
/// </summary>
internal static class QuickstartCommand
{
    public static Command Create()
    {
        var defaults = new QuickstartOptions();
        var output = Cli.Opt("--out", "output folder (problems in data/, model in model/, baseline in baseline/)", Path.Combine("runs", "quickstart"), "-o");
        var preset = Cli.Opt("--preset", "model preset (default: the TransXSSM hybrid; see hybrid info --help)", defaults.Preset);
        var steps = Cli.Opt("--steps", "optimizer steps (the learning-rate schedule spans them)", defaults.Steps);
        var minutes = Cli.Opt("--minutes", "stop training after this many minutes even if steps remain", defaults.Minutes);
        var problems = Cli.Opt("--problems", "synthetic training problems", defaults.Problems);
        var maxDiff = Cli.Opt("--max-difficulty", "most operations per problem", defaults.MaxDifficulty);
        var evalCount = Cli.Opt("--eval-problems", "held-out problems to evaluate", defaults.EvalProblems);
        var seed = Cli.Opt("--seed", "seed of the data, the weights and the batch order", defaults.Seed);
        var compare = Cli.Opt("--compare", "also train the Transformer of equal size on the same data for the same time, and compare", false);
        var fresh = Cli.Opt("--fresh", "delete earlier quickstart output and start over", false);
        var cmd = new Command("quickstart", "Train a small hybrid on arithmetic word problems, then evaluate it on held-out problems (about 6 minutes on 2 cores).")
            { output, preset, steps, minutes, problems, maxDiff, evalCount, seed, compare, fresh };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var options = defaults with
            {
                Preset = pr.GetValue(preset)!, Steps = pr.GetValue(steps), Minutes = pr.GetValue(minutes), Problems = pr.GetValue(problems),
                MaxDifficulty = pr.GetValue(maxDiff), EvalProblems = pr.GetValue(evalCount), Seed = pr.GetValue(seed),
            };
            Presets.Get(options.Preset); // an unknown preset is one error line before anything is written
            return QuickstartConsole.Run(pr.GetValue(output)!, options, pr.GetValue(compare), pr.GetValue(fresh));
        }));
        return cmd;
    }
}
