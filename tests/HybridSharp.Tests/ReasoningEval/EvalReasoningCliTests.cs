using HybridSharp.Eval.Reasoning;
using HybridSharp.Tasks;
using HybridSharp.Tests.Cli;
using Xunit;

namespace HybridSharp.Tests.ReasoningEval;

[Collection("Torch")]
public class EvalReasoningCliTests
{
    [Fact]
    public void EvalReasoningWritesItsFilesForGreedyAndSampledRuns()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny").Code);
        var (cd, od, ed) = HybridProcess.Run("reasoning-data", "--out", tmp["data"], "--train", "4", "--eval", "6", "--max-difficulty", "3");
        Assert.True(cd == 0, od + ed);
        var evalFile = Path.Combine(tmp["data"], ReasoningDataBuilder.EvalFile);

        var (c1, o1, e1) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", evalFile, "-o", tmp["greedy"], "-n", "6", "-b", "4");
        Assert.True(c1 == 0, o1 + e1);
        foreach (var f in new[] { ReasoningReport.MarkdownFile, ReasoningReport.SummaryCsvFile, ReasoningReport.ProblemsCsvFile, ReasoningReport.GenerationsFile, ReasoningReport.PlotFile })
            Assert.True(File.Exists(Path.Combine(tmp["greedy"], f)), f);
        var summary = File.ReadAllLines(Path.Combine(tmp["greedy"], ReasoningReport.SummaryCsvFile));
        Assert.Equal(1 + 1 + 3, summary.Length); // header, all, difficulties 1–3
        Assert.StartsWith("all,6,6,", summary[1]);
        Assert.Equal(7, File.ReadAllLines(Path.Combine(tmp["greedy"], ReasoningReport.ProblemsCsvFile)).Length);
        Assert.Contains("decoding: greedy", File.ReadAllText(Path.Combine(tmp["greedy"], ReasoningReport.MarkdownFile)));

        var (c2, o2, e2) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", evalFile, "-o", tmp["sampled"], "-n", "4", "-k", "3",
            "-t", "0.8", "--top-p", "0.95", "--limit", "2", "--raw", "--prompt-template", "Question: {problem}\\nAnswer: ");
        Assert.True(c2 == 0, o2 + e2);
        Assert.Contains("pass@3", o2);
        var header = File.ReadAllLines(Path.Combine(tmp["sampled"], ReasoningReport.SummaryCsvFile))[0];
        Assert.Contains("pass_at_2,pass_at_3", header);
        Assert.Equal(6, File.ReadAllLines(Path.Combine(tmp["sampled"], ReasoningReport.GenerationsFile)).Length);
    }

    [Fact]
    public void UserMistakesGiveOneLineErrors()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny").Code);
        File.WriteAllText(tmp["p.jsonl"], "{\"question\":\"1+1\",\"answer\":\"2\"}\n");
        var (c1, _, e1) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", tmp["p.jsonl"], "-o", tmp["o"], "-k", "2");
        HybridProcess.AssertOneLineError(c1, e1, "--samples > 1 needs --temperature > 0");
        var (c2, _, e2) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", tmp["p.jsonl"], "-o", tmp["o"]);
        HybridProcess.AssertOneLineError(c2, e2, "--problem-field");
        var (c3, _, e3) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", tmp["p.jsonl"], "-o", tmp["o"], "--problem-field", "question", "--prompt-template", "no placeholder");
        HybridProcess.AssertOneLineError(c3, e3, "{problem}");
        var (c4, _, e4) = HybridProcess.Run("reasoning-data", "--out", tmp["d"], "--min-difficulty", "5", "--max-difficulty", "2");
        HybridProcess.AssertOneLineError(c4, e4, "--min-difficulty");
        var (c5, _, e5) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", tmp["p.jsonl"], "-o", tmp["o"], "--problem-field", "question", "--template-kwargs", "[1]");
        HybridProcess.AssertOneLineError(c5, e5, "--template-kwargs must be a JSON object");
    }

    [Fact]
    public void ChatPromptsNeedATemplateRawPromptsDoNot()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny", "--tokenizer", "tiktoken:r50k_base").Code);
        File.WriteAllText(tmp["p.jsonl"], "{\"problem\":\"1+1\",\"answer\":\"2\"}\n");
        var (c1, _, e1) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", tmp["p.jsonl"], "-o", tmp["o"], "-n", "2");
        HybridProcess.AssertOneLineError(c1, e1, "--chat-template");
        var (c2, o2, e2) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", tmp["p.jsonl"], "-o", tmp["raw"], "-n", "2", "--raw");
        Assert.True(c2 == 0, o2 + e2);
        File.WriteAllText(tmp["t.jinja"], "{% for m in messages %}{{ m.role }}: {{ m.content }}<|endoftext|>{% endfor %}{% if add_generation_prompt %}assistant:{% if think %} <think>{% endif %}{% endif %}");
        var (c3, o3, e3) = HybridProcess.Run("eval-reasoning", "-m", tmp["m"], "-d", tmp["p.jsonl"], "-o", tmp["chat"], "-n", "2",
            "--chat-template", tmp["t.jinja"], "--template-kwargs", "{\"think\": true}");
        Assert.True(c3 == 0, o3 + e3);
        var generation = File.ReadAllLines(Path.Combine(tmp["chat"], ReasoningReport.GenerationsFile))[0];
        Assert.Equal("user: 1+1<|endoftext|>assistant: <think>", System.Text.Json.JsonDocument.Parse(generation).RootElement.GetProperty("prompt").GetString());
    }
}
