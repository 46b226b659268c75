using HybridSharp.Tasks;
using Xunit;

namespace HybridSharp.Tests.Tasks;

public class ArithmeticEvaluatorTests
{
    [Fact]
    public void Evaluate_ComputesAccuracyAndTokensPerDifficulty()
    {
        // 8 problems of each difficulty 1..3, in round-robin order.
        var problems = new ArithmeticGenerator(11).Generate(24, 1, 3);
        var batchSizes = new List<int>();
        int next = 0;
        int difficultyTwoSeen = 0;

        IReadOnlyList<Completion> Complete(IReadOnlyList<string> prompts)
        {
            batchSizes.Add(prompts.Count);
            var completions = new List<Completion>();
            foreach (string prompt in prompts)
            {
                var problem = problems[next++];
                Assert.Equal(ArithmeticFormat.Prompt(problem), prompt);
                // Difficulty 1: always right; 2: every other one right; 3: always wrong.
                bool right = problem.Difficulty switch
                {
                    1 => true,
                    2 => difficultyTwoSeen++ % 2 == 0,
                    _ => false,
                };
                int answer = right ? problem.Answer : problem.Answer + 1;
                completions.Add(new Completion($"some reasoning\n\\boxed{{{answer}}}", problem.Difficulty * 10));
            }
            return completions;
        }

        var report = new ArithmeticEvaluator(batchSize: 5).Evaluate(problems, Complete);

        Assert.Equal([5, 5, 5, 5, 4], batchSizes);
        Assert.Equal(24, report.Count);
        Assert.Equal(12, report.CorrectCount);
        Assert.Equal(0.5, report.Accuracy, 12);
        Assert.Equal(20.0, report.MeanGeneratedTokens, 12);

        Assert.Equal([1, 2, 3], report.ByDifficulty.Select(s => s.Difficulty));
        Assert.All(report.ByDifficulty, s => Assert.Equal(8, s.Count));
        Assert.Equal([1.0, 0.5, 0.0], report.ByDifficulty.Select(s => s.Accuracy));
        Assert.Equal([10.0, 20.0, 30.0], report.ByDifficulty.Select(s => s.MeanGeneratedTokens));

        Assert.Equal(problems, report.Results.Select(r => r.Problem));
        Assert.All(report.Results, r => Assert.NotNull(r.ExtractedAnswer));
        Assert.All(report.Results.Where(r => r.Problem.Difficulty == 3), r => Assert.False(r.Correct));

        string markdown = report.ToMarkdown();
        Assert.Contains("| Difficulty | Count | Correct | Accuracy | Mean tokens |", markdown);
        Assert.Contains("| 1 | 8 | 8 | 100.0% | 10.0 |", markdown);
        Assert.Contains("| 2 | 8 | 4 | 50.0% | 20.0 |", markdown);
        Assert.Contains("| 3 | 8 | 0 | 0.0% | 30.0 |", markdown);
        Assert.Contains("| **All** | 24 | 12 | 50.0% | 20.0 |", markdown);
    }

    [Theory]
    [InlineData(SolutionStyle.Concise)]
    [InlineData(SolutionStyle.Verbose)]
    public void Evaluate_ReferenceSolutionsScorePerfectly(SolutionStyle style)
    {
        var problems = new ArithmeticGenerator(12).Generate(40, 1, 8);
        var byPrompt = problems.GroupBy(ArithmeticFormat.Prompt).ToDictionary(g => g.Key, g => g.First());
        var report = new ArithmeticEvaluator(7).Evaluate(problems, prompts =>
            prompts.Select(p => new Completion(ArithmeticSolutionWriter.Write(byPrompt[p], style), 1)).ToList());
        Assert.Equal(1.0, report.Accuracy);
        Assert.Equal(8, report.ByDifficulty.Count);
    }

    [Theory]
    [InlineData(14, @"so \boxed{14}", "14", true)]
    [InlineData(14, @"\boxed{ 14 }", " 14 ", true)]
    [InlineData(14, @"\boxed{14.0}", "14.0", true)]
    [InlineData(14, @"\boxed{+14}", "+14", true)]
    [InlineData(14, @"\boxed{\$14}", @"\$14", true)]
    [InlineData(14, @"\boxed{\frac{28}{2}}", @"\frac{28}{2}", true)]
    [InlineData(14, @"\boxed{28/2}", "28/2", true)]
    [InlineData(14, @"legacy \fbox{14}", "14", true)]
    [InlineData(14, @"bare $\boxed 14$.", "14", true)]
    [InlineData(14, @"\boxed{14 apples}", "14 apples", true)]
    [InlineData(14, @"\boxed{15}", "15", false)]
    [InlineData(14, @"\boxed{-14}", "-14", false)]
    [InlineData(14, @"\boxed{14.001}", "14.001", false)]
    [InlineData(14, @"\boxed{14} no wait, \boxed{15}", "15", false)]
    [InlineData(14, @"\boxed{14} then a truncated \boxed{1", null, false)]
    [InlineData(14, "the answer is 14", null, false)]
    [InlineData(5000, @"\boxed{5,000}", "5,000", true)]
    [InlineData(5000, @"\boxed{4999.5}", "4999.5", false)]
    [InlineData(9999, @"\boxed{9998}", "9998", false)]
    public void Score_TakesTheLastBoxAndComparesItExactly(int answer, string completion, string? extracted, bool correct)
    {
        var problem = new ArithmeticGenerator(15).Generate(1, 1, 1)[0] with { Answer = answer };
        var result = ArithmeticEvaluator.Score(problem, "prompt", new Completion(completion, 3));
        Assert.Equal(extracted, result.ExtractedAnswer);
        Assert.Equal(correct, result.Correct);
    }

    [Fact]
    public void Evaluate_CompletionWithoutBoxIsWrong()
    {
        var problems = new ArithmeticGenerator(13).Generate(3, 1, 1);
        var report = new ArithmeticEvaluator().Evaluate(problems, prompts =>
            prompts.Select(_ => new Completion("I am not sure.", 4)).ToList());
        Assert.Equal(0.0, report.Accuracy);
        Assert.All(report.Results, r => Assert.Null(r.ExtractedAnswer));
        Assert.Equal(4.0, report.MeanGeneratedTokens);
    }

    [Fact]
    public void Evaluate_RejectsWrongNumberOfCompletions()
    {
        var problems = new ArithmeticGenerator(14).Generate(4, 1, 2);
        var evaluator = new ArithmeticEvaluator(4);
        Assert.Throws<InvalidOperationException>(() =>
            evaluator.Evaluate(problems, prompts => [new Completion("\\boxed{1}", 1)]));
    }

    [Fact]
    public void Evaluate_EmptyInputGivesEmptyReport()
    {
        int calls = 0;
        var report = new ArithmeticEvaluator().Evaluate([], prompts => { calls++; return []; });
        Assert.Equal(0, calls);
        Assert.Equal(0, report.Count);
        Assert.Equal(0.0, report.Accuracy);
        Assert.Empty(report.ByDifficulty);
        Assert.Contains("| **All** | 0 | 0 | 0.0% | 0.0 |", report.ToMarkdown());
    }

    [Fact]
    public void Constructor_RejectsNonPositiveBatchSize() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArithmeticEvaluator(0));
}
