using HybridSharp.Tasks;
using Xunit;

namespace HybridSharp.Tests.Tasks;

public class ArithmeticGeneratorTests
{
    [Fact]
    public void SameSeed_GivesIdenticalProblemsAndTexts()
    {
        var a = new ArithmeticGenerator(123).Generate(200, 1, 8);
        var b = new ArithmeticGenerator(123).Generate(200, 1, 8);
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Id, b[i].Id);
            Assert.Equal(a[i].Seed, b[i].Seed);
            Assert.Equal(a[i].Question, b[i].Question);
            Assert.Equal(a[i].Story, b[i].Story);
            Assert.Equal(a[i].Start, b[i].Start);
            Assert.Equal(a[i].Answer, b[i].Answer);
            Assert.Equal(a[i].Steps, b[i].Steps);
            foreach (var style in new[] { SolutionStyle.Concise, SolutionStyle.Verbose })
                Assert.Equal(ArithmeticSolutionWriter.Write(a[i], style), ArithmeticSolutionWriter.Write(b[i], style));
        }
    }

    [Fact]
    public void DifferentSeeds_GiveDifferentProblems()
    {
        var a = new ArithmeticGenerator(1).Generate(100, 1, 5);
        var b = new ArithmeticGenerator(2).Generate(100, 1, 5);
        int differing = a.Zip(b).Count(pair => pair.First.Question != pair.Second.Question);
        Assert.True(differing >= 95, $"only {differing} of 100 questions differ");
    }

    [Fact]
    public void Create_RebuildsProblemFromItsSeed()
    {
        foreach (var problem in new ArithmeticGenerator(5).Generate(30, 1, 10))
        {
            var rebuilt = ArithmeticGenerator.Create(problem.Seed, problem.Difficulty);
            Assert.Equal(problem.Question, rebuilt.Question);
            Assert.Equal(problem.Steps, rebuilt.Steps);
            Assert.Equal(problem.Id, rebuilt.Id);
        }
    }

    [Fact]
    public void Generate_CyclesDifficultiesEvenly()
    {
        var problems = new ArithmeticGenerator(8).Generate(40, 2, 5);
        Assert.Equal(40, problems.Count);
        for (int i = 0; i < problems.Count; i++) Assert.Equal(2 + i % 4, problems[i].Difficulty);
    }

    [Fact]
    public void Generate_RejectsBadArguments()
    {
        var generator = new ArithmeticGenerator(0);
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(ArithmeticGenerator.MaxDifficulty + 1));
        Assert.Throws<ArgumentException>(() => generator.Generate(5, 4, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(-1, 1, 2));
    }

    [Fact]
    public void ManyProblems_AreArithmeticallyConsistent()
    {
        var problems = new ArithmeticGenerator(2024).Generate(500, 1, 8)
            .Concat(new ArithmeticGenerator(77).Generate(60, 9, 10))
            .ToList();
        var operationsSeen = new HashSet<ArithmeticOperation>();

        foreach (var problem in problems)
        {
            Assert.Equal(problem.Difficulty, problem.Steps.Count);
            Assert.InRange(problem.Start, 1, ArithmeticGenerator.MaxValue);

            // Re-evaluate every step independently of the library's own helpers.
            int current = problem.Start;
            foreach (var step in problem.Steps)
            {
                Assert.Equal(current, step.Left);
                int expected;
                switch (step.Operation)
                {
                    case ArithmeticOperation.Add: expected = current + step.Right; break;
                    case ArithmeticOperation.Subtract: expected = current - step.Right; break;
                    case ArithmeticOperation.Multiply: expected = current * step.Right; break;
                    case ArithmeticOperation.Divide:
                        Assert.True(step.Right > 0 && current % step.Right == 0, $"inexact division in {problem.Id}");
                        expected = current / step.Right;
                        break;
                    default: throw new InvalidOperationException("unknown operation");
                }
                Assert.Equal(expected, step.Result);
                Assert.InRange(step.Right, 1, ArithmeticGenerator.MaxValue);
                Assert.InRange(step.Result, 1, ArithmeticGenerator.MaxValue);
                Assert.False(string.IsNullOrWhiteSpace(step.Wording.Present));
                current = expected;
                operationsSeen.Add(step.Operation);
            }
            Assert.Equal(current, problem.Answer);

            Assert.EndsWith("?", problem.Question);
            Assert.Contains(problem.Story.Name, problem.Question);
            Assert.Contains(problem.Start.ToString(), problem.Question);
            Assert.All(problem.Question, c => Assert.True(c < 128, $"non-ASCII character in {problem.Id}"));
            if (problem.Difficulty <= ArithmeticGenerator.ShortDifficulty)
                Assert.True(problem.Question.Length <= ArithmeticGenerator.ShortQuestionMaxLength,
                    $"question too long ({problem.Question.Length}): {problem.Question}");
        }

        Assert.Equal(4, operationsSeen.Count);
    }
}
