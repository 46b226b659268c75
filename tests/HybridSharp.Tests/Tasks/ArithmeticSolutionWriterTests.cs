using System.Text.RegularExpressions;
using HybridSharp.Eval.Reasoning;
using HybridSharp.Tasks;
using Xunit;

namespace HybridSharp.Tests.Tasks;

public class ArithmeticSolutionWriterTests
{
    private static readonly Regex EquationRegex =
        new(@"(?<!\d|\d\.)(\d+) ([+\-*/]) (\d+) = (\d+)(?!\d|\.\d)", RegexOptions.CultureInvariant);

    private static IReadOnlyList<ArithmeticProblem> Problems() => new ArithmeticGenerator(31337).Generate(400, 1, 8);

    private static List<(long Left, char Op, long Right, long Result)> Equations(string text) =>
        EquationRegex.Matches(text)
            .Select(m => (long.Parse(m.Groups[1].Value), m.Groups[2].Value[0], long.Parse(m.Groups[3].Value), long.Parse(m.Groups[4].Value)))
            .ToList();

    private static int CountOccurrences(string text, string pattern)
    {
        int count = 0;
        for (int i = text.IndexOf(pattern, StringComparison.Ordinal); i >= 0; i = text.IndexOf(pattern, i + 1, StringComparison.Ordinal))
            count++;
        return count;
    }

    [Theory]
    [InlineData(SolutionStyle.Concise)]
    [InlineData(SolutionStyle.Verbose)]
    public void EverySolution_HasOneCorrectBoxAndCorrectEquations(SolutionStyle style)
    {
        foreach (var problem in Problems())
        {
            string solution = ArithmeticSolutionWriter.Write(problem, style);

            Assert.Equal(1, CountOccurrences(solution, "\\boxed{"));
            Assert.EndsWith($"\\boxed{{{problem.Answer}}}", solution);
            Assert.Equal(problem.Answer.ToString(), AnswerExtractor.LastBoxed(solution));
            Assert.All(solution, c => Assert.True(c < 128, "non-ASCII character in solution"));

            var equations = Equations(solution);
            Assert.True(equations.Count >= problem.Difficulty, $"too few equations in: {solution}");
            // Every "=" belongs to an equation the regex understood, so none escapes the check below.
            Assert.Equal(CountOccurrences(solution, " = "), equations.Count);
            foreach (var (left, op, right, result) in equations)
            {
                long actual = op switch
                {
                    '+' => left + right,
                    '-' => left - right,
                    '*' => left * right,
                    '/' when right != 0 && left % right == 0 => left / right,
                    _ => long.MinValue,
                };
                Assert.True(actual == result, $"wrong equation '{left} {op} {right} = {result}' in:\n{solution}");
            }

            // Every step's own equation is stated.
            foreach (var step in problem.Steps) Assert.Contains(step.Equation, solution);
        }
    }

    [Fact]
    public void EquationParser_FindsEquationsNextToPunctuation()
    {
        var found = Equations("So 12 + 5 = 17. Then 17 - 3 = 14, and 2 * 7 = 15.");
        Assert.Equal([(12L, '+', 5L, 17L), (17L, '-', 3L, 14L), (2L, '*', 7L, 15L)], found);
    }

    [Fact]
    public void Concise_IsOneEquationPerStepThenTheBox()
    {
        var problem = new ArithmeticGenerator(4).Generate(3);
        var expected = string.Join("\n", problem.Steps.Select(s => s.Equation)) + $"\n\\boxed{{{problem.Answer}}}";
        Assert.Equal(expected, ArithmeticSolutionWriter.Write(problem, SolutionStyle.Concise));
    }

    [Fact]
    public void Verbose_IsMuchLongerThanConcise()
    {
        long conciseTotal = 0, verboseTotal = 0;
        foreach (var problem in Problems())
        {
            int concise = ArithmeticSolutionWriter.Write(problem, SolutionStyle.Concise).Length;
            int verbose = ArithmeticSolutionWriter.Write(problem, SolutionStyle.Verbose).Length;
            Assert.True(verbose > concise);
            conciseTotal += concise;
            verboseTotal += verbose;
        }
        double ratio = (double)verboseTotal / conciseTotal;
        Assert.True(ratio >= 2.5, $"verbose/concise length ratio {ratio:F2}");
    }

    [Fact]
    public void Verbose_ShowsLongChainOfThoughtBehaviours()
    {
        var texts = Problems().Select(p => ArithmeticSolutionWriter.Write(p, SolutionStyle.Verbose)).ToList();
        int secondGuesses = texts.Count(t => t.Contains("Wait") || t.Contains("or did"));
        int doubleChecks = texts.Count(t => t.Contains("double-check") || t.Contains("Check:") || t.Contains("Backwards:"));
        int recomputes = texts.Count(t => t.Contains("another way") || t.Contains("Another way"));
        Assert.True(secondGuesses > texts.Count / 2, $"second-guesses in {secondGuesses} texts");
        Assert.True(doubleChecks > texts.Count / 5, $"double-checks in {doubleChecks} texts");
        Assert.True(recomputes > texts.Count / 5, $"recomputations in {recomputes} texts");

        // Problems with three or more steps always second-guess and verify something.
        foreach (var (problem, text) in Problems().Zip(texts).Where(pair => pair.First.Difficulty >= 3))
        {
            Assert.True(text.Contains("Wait") || text.Contains("or did"), text);
            Assert.True(text.Contains("Check") || text.Contains("check") || text.Contains("Backwards") || text.Contains("nother way"), text);
        }
    }

    [Fact]
    public void ProblemEquationDocuments_HoldQuestionThenItsEquationsAndSkipExcludedQuestions()
    {
        var tok = new HybridSharp.Data.ByteTokenizer();
        var bos = tok.Decode([tok.BosId]);
        var all = ArithmeticCorpus.ProblemEquationDocuments(tok, 30, seed: 11, 1, 3).ToList();
        Assert.Equal(30, all.Count);
        var gen = new ArithmeticGenerator(11);
        for (int i = 0; i < 30; i++)
        {
            var p = gen.Generate(1 + i % 3);
            Assert.Equal(bos + p.Question + "\n" + string.Join("\n", p.Steps.Select(s => s.Equation)), all[i]);
            Assert.DoesNotContain("boxed", all[i]);
        }
        // Excluding the first five questions: none of them appears, and the count is still met from later problems.
        var excluded = all.Take(5).Select(d => d[bos.Length..].Split('\n')[0]).ToHashSet();
        var kept = ArithmeticCorpus.ProblemEquationDocuments(tok, 30, seed: 11, 1, 3, excluded).ToList();
        Assert.Equal(30, kept.Count);
        Assert.All(kept, d => Assert.DoesNotContain(d[bos.Length..].Split('\n')[0], excluded));
    }

    [Fact]
    public void Verbose_RereadsTheQuestionAndEquationDocumentsHoldOnlyCorrectEquations()
    {
        foreach (var problem in Problems())
            Assert.Contains(problem.Question, ArithmeticSolutionWriter.Write(problem, SolutionStyle.Verbose));

        var tok = new HybridSharp.Data.ByteTokenizer();
        var docs = ArithmeticCorpus.EquationDocuments(tok, 20, seed: 3, 1, 4).ToList();
        Assert.Equal(20, docs.Count);
        var bos = tok.Decode([tok.BosId]);
        foreach (var doc in docs)
        {
            Assert.StartsWith(bos, doc);
            foreach (var line in doc[bos.Length..].Split('\n'))
            {
                var m = System.Text.RegularExpressions.Regex.Match(line, @"^(\d+) ([-+*/]) (\d+) = (-?\d+)$");
                Assert.True(m.Success, line);
                long a = long.Parse(m.Groups[1].Value), b = long.Parse(m.Groups[3].Value), c = long.Parse(m.Groups[4].Value);
                Assert.Equal(c, m.Groups[2].Value switch { "+" => a + b, "-" => a - b, "*" => a * b, _ => a / b });
            }
        }
    }

    [Fact]
    public void Verbose_IsDeterministicAndVariesWithSeed()
    {
        var problems = new ArithmeticGenerator(10).Generate(50, 2, 6);
        int differing = 0;
        foreach (var problem in problems)
        {
            string first = ArithmeticSolutionWriter.Write(problem, SolutionStyle.Verbose);
            Assert.Equal(first, ArithmeticSolutionWriter.Write(problem, SolutionStyle.Verbose));
            Assert.Equal(first, ArithmeticSolutionWriter.Write(problem, SolutionStyle.Verbose, 0));
            string other = ArithmeticSolutionWriter.Write(problem, SolutionStyle.Verbose, 17);
            Assert.Equal(other, ArithmeticSolutionWriter.Write(problem, SolutionStyle.Verbose, 17));
            if (other != first) differing++;
            Assert.Equal(
                ArithmeticSolutionWriter.Write(problem, SolutionStyle.Concise),
                ArithmeticSolutionWriter.Write(problem, SolutionStyle.Concise, 17));
        }
        Assert.True(differing >= 40, $"only {differing} of 50 verbose texts changed with the seed");
    }

    [Fact]
    public void Format_PromptAndTrainingDocument()
    {
        var problem = new ArithmeticGenerator(3).Generate(2);
        string prompt = ArithmeticFormat.Prompt(problem);
        Assert.Equal($"Question: {problem.Question}\nAnswer: ", prompt);
        foreach (var style in new[] { SolutionStyle.Concise, SolutionStyle.Verbose })
        {
            string solution = ArithmeticSolutionWriter.Write(problem, style);
            Assert.Equal(solution, ArithmeticFormat.Completion(problem, style));
            Assert.Equal(prompt + solution, ArithmeticFormat.TrainingDocument(problem, style));
        }
    }
}
