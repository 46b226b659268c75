using HybridSharp.Eval.Reasoning;
using Xunit;

namespace HybridSharp.Tests.ReasoningEval;

public class ReasoningMetricsTests
{
    [Theory]
    [InlineData(5, 2, 1, 0.4)]
    [InlineData(5, 2, 2, 0.7)]            // 1 − C(3,2)/C(5,2) = 1 − 3/10
    [InlineData(5, 2, 3, 0.9)]            // 1 − C(3,3)/C(5,3) = 1 − 1/10
    [InlineData(5, 0, 3, 0.0)]
    [InlineData(5, 5, 1, 1.0)]
    [InlineData(10, 3, 5, 1 - 21.0 / 252)] // 1 − C(7,5)/C(10,5)
    [InlineData(4, 1, 4, 1.0)]
    public void PassAtKMatchesTheCombinatorialFormula(int n, int c, int k, double expected) =>
        Assert.Equal(expected, ReasoningMetrics.PassAtK(n, c, k), 12);

    [Fact]
    public void PassAtKRejectsImpossibleCounts()
    {
        Assert.Throws<ArgumentException>(() => ReasoningMetrics.PassAtK(3, 4, 1));
        Assert.Throws<ArgumentException>(() => ReasoningMetrics.PassAtK(3, 1, 4));
        Assert.Equal([1, 2, 4, 5], ReasoningMetrics.ReportedK(5));
        Assert.Equal([1], ReasoningMetrics.ReportedK(1));
    }

    private static ReasoningSample S(string text, int tokens, bool cap, string reference) => ReasoningMetrics.Score(text, tokens, cap, reference);

    /// <summary>
    /// P1 (difficulty 1, ref 5): correct 10 tok, wrong 20 tok. P2 (difficulty 1, ref 7): wrong 30 tok (cap), no answer 40 tok (cap).
    /// P3 (difficulty 2, ref 9): correct 50 tok, correct 100 tok.
    /// </summary>
    public static IReadOnlyList<ProblemResult> FixedResults() =>
    [
        new(new ReasoningProblem("p1", "q1", "5", "1"), [S("2+3 = 5, so \\boxed{5}", 10, false, "5"), S("\\boxed{6}", 20, false, "5")]),
        new(new ReasoningProblem("p2", "q2", "7", "1"), [S("The answer is 8", 30, true, "7"), S("I am not sure", 40, true, "7")]),
        new(new ReasoningProblem("p3", "q3", "9", "2"), [S("\\boxed{9}", 50, false, "9"), S("4+5 gives \\boxed{9.0}", 100, false, "9")]),
    ];

    [Fact]
    public void SummaryOfAFixedSetMatchesHandComputedValues()
    {
        var results = FixedResults();
        Assert.Equal([1, 0, 2], results.Select(r => r.CorrectCount));
        Assert.Null(results[1].Samples[1].Extracted);
        Assert.Equal("8", results[1].Samples[0].Extracted);

        var s = ReasoningMetrics.Summarize("all", results);
        Assert.Equal(3, s.Problems);
        Assert.Equal(6, s.Samples);
        Assert.Equal(3, s.CorrectSamples);
        Assert.Equal(2.0 / 3, s.Accuracy, 12);                 // first samples: P1 yes, P2 no, P3 yes
        Assert.Equal((0.5 + 0 + 1) / 3, s.Pass1, 12);
        Assert.Equal([1, 2], s.PassAtK.Keys.OrderBy(k => k));
        Assert.Equal(s.Pass1, s.PassAtK[1], 12);
        Assert.Equal((1 + 0 + 1) / 3.0, s.PassAtK[2], 12);
        Assert.Equal(250 / 6.0, s.MeanTokens, 12);
        Assert.Equal(35, s.MedianTokens);                       // sorted 10 20 30 40 50 100
        Assert.Equal(160 / 3.0, s.MeanTokensCorrect!.Value, 12);
        Assert.Equal(30, s.MeanTokensIncorrect!.Value, 12);
        Assert.Equal(250 / 3.0, s.TokensPerCorrect!.Value, 12);
        Assert.Equal(2 / 6.0, s.CapFraction, 12);
        Assert.Equal(1 / 6.0, s.NoAnswerFraction, 12);

        var groups = ReasoningMetrics.ByDifficulty(results);
        Assert.Equal(["1", "2"], groups.Select(g => g.Group));
        var d1 = groups[0];
        Assert.Equal(2, d1.Problems);
        Assert.Equal(0.5, d1.Accuracy, 12);
        Assert.Equal(0.25, d1.Pass1, 12);
        Assert.Equal(0.5, d1.PassAtK[2], 12);
        Assert.Equal(25, d1.MeanTokens, 12);
        Assert.Equal(25, d1.MedianTokens);
        Assert.Equal(100, d1.TokensPerCorrect!.Value, 12);
        Assert.Equal(0.5, d1.CapFraction, 12);
        var d2 = groups[1];
        Assert.Equal(1, d2.Accuracy);
        Assert.Equal(75, d2.MeanTokens, 12);
        Assert.Equal(75, d2.TokensPerCorrect!.Value, 12);
        Assert.Equal(0, d2.CapFraction);
    }

    [Fact]
    public void NoCorrectSampleLeavesTokensPerCorrectEmpty()
    {
        var s = ReasoningMetrics.Summarize("x", [new(new ReasoningProblem("a", "q", "1"), [S("\\boxed{2}", 7, false, "1")])]);
        Assert.Equal(0, s.Accuracy);
        Assert.Null(s.TokensPerCorrect);
        Assert.Null(s.MeanTokensCorrect);
    }

    [Fact]
    public void DifficultiesSortNumericallyWithUnlabelledLast()
    {
        ProblemResult R(string? d) => new(new ReasoningProblem("i", "q", "1", d), [S("\\boxed{1}", 1, false, "1")]);
        var groups = ReasoningMetrics.ByDifficulty([R("10"), R(null), R("2"), R("1"), R("2")]);
        Assert.Equal(["1", "2", "10", ReasoningMetrics.NoDifficulty], groups.Select(g => g.Group));
        Assert.Equal(2, groups[1].Problems);
        var named = ReasoningMetrics.ByDifficulty([R("hard"), R("easy")]);
        Assert.Equal(["easy", "hard"], named.Select(g => g.Group));
    }

    [Fact]
    public void ReportWritesMarkdownCsvGenerationsAndPlot()
    {
        using var tmp = new TempDir();
        var (overall, byDifficulty) = ReasoningReport.Write(tmp.Path, FixedResults(), [new("model", "m")]);
        Assert.Equal(2, byDifficulty.Count);
        var md = File.ReadAllText(tmp[ReasoningReport.MarkdownFile]);
        Assert.Contains("| all | 3 | 6 | 66.7 % | 50.0 % | 66.7 % |", md);
        var summary = File.ReadAllLines(tmp[ReasoningReport.SummaryCsvFile]);
        Assert.Equal(4, summary.Length);
        Assert.StartsWith("group,problems,samples,correct_samples,accuracy,pass_at_1_mean,pass_at_1,pass_at_2,mean_tokens,median_tokens", summary[0]);
        Assert.StartsWith("all,3,6,3,0.6667,0.5000,0.5000,0.6667,41.67,35.00,53.33,30.00,83.33,0.3333,0.1667,0", summary[1]);
        var problems = File.ReadAllLines(tmp[ReasoningReport.ProblemsCsvFile]);
        Assert.Equal(4, problems.Length);
        Assert.Equal("p2,1,7,2,0,0.0000,8,0,answer-is,35.00,2", problems[2]);
        Assert.Equal(6, File.ReadAllLines(tmp[ReasoningReport.GenerationsFile]).Length);
        var png = File.ReadAllBytes(tmp[ReasoningReport.PlotFile]);
        Assert.True(png.Length > 1000);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Equal(0.5, overall.Pass1, 12);
    }

    [Fact]
    public void CsvQuotesFieldsThatNeedIt()
    {
        Assert.Equal("plain", ReasoningReport.Csv("plain"));
        Assert.Equal("\"a,b\"", ReasoningReport.Csv("a,b"));
        Assert.Equal("\"say \"\"hi\"\"\"", ReasoningReport.Csv("say \"hi\""));
    }
}
