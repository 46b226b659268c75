using System.Text.Json;
using HybridSharp.Distill;
using HybridSharp.Experiments.LiteCot;
using HybridSharp.Tasks;
using HybridSharp.Tests.Cli;
using Xunit;

namespace HybridSharp.Tests.LiteCot;

[Collection("Torch")]
public class LiteCotMiniTests
{
    private static List<string> AssistantTurns(string path) =>
        File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("messages").EnumerateArray()
            .Last(m => m.GetProperty("role").GetString() == "assistant").GetProperty("content").GetString()!).ToList();

    private static List<string> UserTurns(string path) =>
        File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("messages").EnumerateArray()
            .First(m => m.GetProperty("role").GetString() == "user").GetProperty("content").GetString()!).ToList();

    [Fact]
    public void WholeRunWritesBothArmsTheDisclosureAndResumes()
    {
        using var tmp = new TempDir();
        string[] args = ["litecot-mini", "--out", tmp["run"], "--train", "24", "--eval", "6", "--max-difficulty", "3", "--steps", "3", "-b", "4",
            "--max-tokens", "24", "--eval-batch-size", "6", "--pretrain-steps", "3"];
        var (code, stdout, stderr) = HybridProcess.Run(args);
        Assert.True(code == 0, stdout + stderr);

        var report = File.ReadAllText(Path.Combine(tmp["run"], LiteCotMini.ReportFile));
        Assert.Contains(LiteCotMini.Disclosure, report);
        Assert.Contains("not an LLM", stdout);
        Assert.Contains("| long | ", report);
        Assert.Contains("| concise | ", report);
        Assert.Contains("Base model: pretrained on arithmetic and reading", report);
        Assert.Contains("word problems with their equations (evaluation questions excluded)", stdout);
        Assert.Contains("pretrain step 3/3", stdout);
        Assert.Contains("Target (concise accuracy ≥ long accuracy with at most a third of the tokens)", report);
        var csv = File.ReadAllLines(Path.Combine(tmp["run"], LiteCotMini.CsvFile));
        Assert.Equal(["1", "2", "3", "all"], csv.Skip(1).Select(l => l.Split(',')[0]));
        foreach (var arm in new[] { LiteCotMini.Long, LiteCotMini.Concise })
            Assert.True(File.Exists(Path.Combine(LiteCotMini.EvalDir(tmp["run"], arm), "summary.csv")), arm);

        // Both arms train on the same accepted problems; the concise targets are shorter, on average and at every difficulty.
        var longPath = LiteCotMini.LongAcceptedFile(tmp["run"]);
        var concisePath = Path.Combine(LiteCotMini.DistillDir(tmp["run"]), "sft.jsonl");
        Assert.Equal(UserTurns(longPath), UserTurns(concisePath));
        var longTurns = AssistantTurns(longPath);
        var conciseTurns = AssistantTurns(concisePath);
        Assert.True(conciseTurns.Count >= 20, $"only {conciseTurns.Count} rewrites accepted");
        Assert.True(conciseTurns.Average(t => t.Length) < longTurns.Average(t => t.Length),
            $"concise {conciseTurns.Average(t => t.Length):F0} chars vs long {longTurns.Average(t => t.Length):F0}");
        int shorter = conciseTurns.Zip(longTurns).Count(p => p.First.Length < p.Second.Length);
        Assert.True(shorter >= 0.9 * conciseTurns.Count, $"only {shorter} of {conciseTurns.Count} concise targets are shorter than their long CoT");
        Assert.All(conciseTurns, t => Assert.Null(DapParser.Parse(t).FormatError));

        // A rerun finds every stage finished and rewrites the same report.
        var (code2, stdout2, stderr2) = HybridProcess.Run(args);
        Assert.True(code2 == 0, stdout2 + stderr2);
        foreach (var stage in new[] { "data:", "distill:", "pretrain:", "sft long:", "sft concise:", "eval long:", "eval concise:" })
            Assert.Contains(stdout2.Split('\n'), l => l.StartsWith(stage, StringComparison.Ordinal) && l.Contains("skipped", StringComparison.Ordinal));
        Assert.Equal(report, File.ReadAllText(Path.Combine(tmp["run"], LiteCotMini.ReportFile)));

        // Other settings in the same folder are refused rather than mixed with the finished stages.
        var (code3, _, err3) = HybridProcess.Run([.. args, "--lr", "1e-3"]);
        HybridProcess.AssertOneLineError(code3, err3, "holds a run with other settings");
    }

    [Fact]
    public void RewriterKeepsOnlyTheStepEquationsAndFollowsTheFramework()
    {
        var problems = new ArithmeticGenerator(5).Generate(30, 1, 6);
        foreach (var p in problems)
        {
            var trace = ArithmeticSolutionWriter.Write(p, SolutionStyle.Verbose);
            var steps = ArithmeticDapRewriter.Steps(trace);
            Assert.Equal(p.Steps.Select(s => s.Equation), steps);
            var level = ArithmeticDapRewriter.Difficulty(steps.Count);
            var answer = ArithmeticDapRewriter.Compose(level, steps, p.Answer.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var parsed = DapParser.Parse(answer);
            Assert.Null(parsed.FormatError);
            Assert.Equal(level, DifficultyLabeler.Label(parsed.Thought));
            Assert.Null(DifficultyLabeler.FrameworkMismatch(parsed.Thought, level));
        }
        Assert.Equal(DifficultyLabeler.Easy, ArithmeticDapRewriter.Difficulty(1));
        Assert.Equal(DifficultyLabeler.Medium, ArithmeticDapRewriter.Difficulty(3));
        Assert.Equal(DifficultyLabeler.Hard, ArithmeticDapRewriter.Difficulty(6));
    }

    [Theory]
    [InlineData("--teacher-model", "x", "--teacher-model needs --teacher-url")]
    [InlineData("--max-difficulty", "99", "--max-difficulty")]
    [InlineData("--preset", "nope", "unknown --preset 'nope'")]
    [InlineData("--teacher-url", "not a url", "--teacher-url")]
    [InlineData("--epochs", "0", "--epochs must be positive")]
    [InlineData("--pretrain-steps", "-1", "--pretrain-steps must be ≥ 0")]
    public void BadInputGivesOneLineError(string option, string value, string expected)
    {
        using var tmp = new TempDir();
        var (code, _, err) = HybridProcess.Run("litecot-mini", "--out", tmp["run"], option, value);
        HybridProcess.AssertOneLineError(code, err, expected);
    }
}
