using System.Text;

namespace HybridSharp.Tasks;

/// <summary>
/// Writes worked solutions for <see cref="ArithmeticProblem"/>s in a <see cref="SolutionStyle"/>. Both styles end with
/// exactly one <c>\boxed{answer}</c>, and every equation they state is arithmetically correct.
/// </summary>
public static class ArithmeticSolutionWriter
{
    private const ulong StyleSalt = 0x5017_7E00_0000_0001UL;

    /// <summary>
    /// Writes the solution. Verbose wording varies with the problem's seed and the optional <paramref name="seed"/>
    /// (null behaves like 0), but is always reproducible for the same inputs. Concise output does not depend on it.
    /// </summary>
    public static string Write(ArithmeticProblem problem, SolutionStyle style, int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return style switch
        {
            SolutionStyle.Concise => WriteConcise(problem),
            SolutionStyle.Verbose => WriteVerbose(problem, seed ?? 0),
            _ => throw new ArgumentOutOfRangeException(nameof(style)),
        };
    }

    private static string WriteConcise(ArithmeticProblem problem)
    {
        var text = new StringBuilder();
        foreach (var step in problem.Steps) text.Append(step.Equation).Append('\n');
        return text.Append(Boxed(problem.Answer)).ToString();
    }

    private static string Boxed(int answer) => $"\\boxed{{{answer}}}";

    private static string WriteVerbose(ArithmeticProblem problem, int seed)
    {
        var rng = new SplitMix64(SplitMix64.Mix(problem.Seed, StyleSalt, unchecked((ulong)(long)seed)));
        var story = problem.Story;
        var steps = problem.Steps;
        string subject = story.Subject;
        string subjectCapitalized = ArithmeticGenerator.Capitalize(subject);
        var text = new StringBuilder();

        // Opening: restate what we start from.
        string changes = steps.Count == 1 ? "one change" : $"{steps.Count} changes";
        text.Append(rng.NextInt(0, 4) switch
        {
            0 or 1 => $"{story.Name} starts with {story.Count(problem.Start)}.",
            2 => $"So {story.Name} begins with {story.Count(problem.Start)}, and there {(steps.Count == 1 ? "is" : "are")} {changes} to follow.",
            _ => $"Okay, {story.Name} has {story.Count(problem.Start)} at first.",
        }).Append('\n');
        // Long reasoning models re-read the problem before they start (and spend many tokens doing so).
        text.Append(rng.NextInt(0, 3) switch
        {
            0 => "Let me reread the question to be sure: ",
            1 => "Let me read the problem again carefully. ",
            _ => "Before computing, let me restate the problem: ",
        }).Append(problem.Question).Append('\n');

        // Problems with three or more steps always get a second-guess and a verification; shorter ones get at least
        // one of the two. Further ones are sprinkled in at random.
        int forcedDoubt = rng.NextInt(0, steps.Count);
        int forcedCheck = rng.NextInt(0, steps.Count);
        if (steps.Count < 3 && !rng.Chance(0.35))
        {
            if (rng.Chance(0.5)) forcedDoubt = -1;
            else forcedCheck = -1;
        }
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var wording = step.Wording;
            string op = Gerund(step.Operation);

            string ordinal = i == 0 ? rng.Pick(FirstOrdinals) : rng.Pick(LaterOrdinals);
            string lead = ordinal + (ordinal.Length == 0 ? subjectCapitalized : subject) + " " + wording.Present;
            string explanation = wording.Explanation is null ? "" : " " + wording.Explanation;
            text.Append(rng.NextInt(0, 5) switch
            {
                0 or 1 when wording.Explanation is not null => $"{lead}.{explanation} So {step.Equation}.",
                0 or 1 => $"{lead}, so {step.Equation}.",
                2 or 3 => $"{lead}.{explanation} {step.Equation}.",
                _ => $"{lead}.{explanation} That means {op} {step.Right}: {step.Equation}.",
            });

            var extras = new List<string>(2);
            if (i == forcedDoubt || rng.Chance(0.35))
            {
                extras.Add(rng.NextInt(0, 4) switch
                {
                    0 => $"Wait, did {subject} {wording.Base} or {wording.Contrast}? {subjectCapitalized} {wording.Present}. Yes.",
                    1 => $"Hmm, or did {subject} {wording.Contrast}? Rereading: {subject} {wording.Present}, so {op} {step.Right}.",
                    2 => $"Wait, {wording.Contrast}? No, {subject} {wording.Present}. Right.",
                    _ => $"Wait, did {subject} {wording.Contrast}? No, {wording.Present}.",
                });
            }
            if (i == forcedCheck || rng.Chance(0.35))
            {
                if (rng.Chance(0.5))
                {
                    string inverse = Inverse(step);
                    extras.Add(rng.NextInt(0, 3) switch
                    {
                        0 => $"Let me double-check: {inverse}. Yes.",
                        1 => $"Check: {inverse}. Good.",
                        _ => $"Backwards: {inverse}. Correct.",
                    });
                }
                else
                {
                    string alternative = string.Join(", ", Recompute(step, rng));
                    extras.Add(rng.NextInt(0, 2) switch
                    {
                        0 => $"Let me redo it another way: {alternative}. Same.",
                        _ => $"Another way: {alternative}. Still {step.Result}.",
                    });
                }
            }
            if (extras.Count == 2 && rng.Chance(0.5)) extras.Reverse();
            foreach (var extra in extras) text.Append(' ').Append(extra);
            text.Append('\n');
        }

        // Conclusion.
        text.Append(rng.NextInt(0, 3) switch
        {
            0 => $"So {story.Name} has {story.Count(problem.Answer)}.",
            1 => $"That was the last step, so {problem.Answer}.",
            _ => $"So the answer is {problem.Answer}.",
        });
        if (steps.Count > 1)
        {
            var chain = string.Join(" -> ", steps.Select(s => s.Result).Prepend(problem.Start));
            text.Append(rng.NextInt(0, 2) switch
            {
                0 => $" Recap: {chain}.",
                _ => $" Let me go over it once more: {chain}. Yes, that is consistent.",
            });
        }
        return text.Append('\n').Append(Boxed(problem.Answer)).ToString();
    }

    private static readonly string[] FirstOrdinals = ["", "", "First, "];
    private static readonly string[] LaterOrdinals = ["", "Then ", "Next, "];

    private static string Gerund(ArithmeticOperation operation) => operation switch
    {
        ArithmeticOperation.Add => "adding",
        ArithmeticOperation.Subtract => "subtracting",
        ArithmeticOperation.Multiply => "multiplying by",
        _ => "dividing by",
    };

    /// <summary>The step undone: "c - b = a" for an addition, and so on.</summary>
    private static string Inverse(ArithmeticStep step)
    {
        var inverse = step.Operation switch
        {
            ArithmeticOperation.Add => ArithmeticOperation.Subtract,
            ArithmeticOperation.Subtract => ArithmeticOperation.Add,
            ArithmeticOperation.Multiply => ArithmeticOperation.Divide,
            _ => ArithmeticOperation.Multiply,
        };
        return Eq(step.Result, inverse, step.Right);
    }

    private static string Eq(int left, ArithmeticOperation operation, int right) =>
        $"{left} {operation.Symbol()} {right} = {operation.Apply(left, right)}";

    /// <summary>The same step computed by a different route, as a short list of binary equations.</summary>
    private static List<string> Recompute(ArithmeticStep step, SplitMix64 rng)
    {
        int a = step.Left, b = step.Right;
        switch (step.Operation)
        {
            case ArithmeticOperation.Add:
            case ArithmeticOperation.Subtract:
            {
                var op = step.Operation;
                if (b >= 10 && b % 10 != 0)
                {
                    int tens = b - b % 10;
                    int mid = op.Apply(a, tens);
                    return [Eq(a, op, tens), Eq(mid, op, b % 10)];
                }
                if (b >= 2)
                {
                    int mid = op.Apply(a, b - 1);
                    return [Eq(a, op, b - 1), Eq(mid, op, 1)];
                }
                return op == ArithmeticOperation.Add
                    ? [Eq(b, ArithmeticOperation.Add, a)]
                    : [Eq(step.Result, ArithmeticOperation.Add, b)];
            }
            case ArithmeticOperation.Multiply:
            {
                if (a >= 10 && a % 10 != 0 && rng.Chance(0.7))
                {
                    int tens = a - a % 10, ones = a % 10;
                    return [Eq(tens, ArithmeticOperation.Multiply, b), Eq(ones, ArithmeticOperation.Multiply, b),
                            Eq(tens * b, ArithmeticOperation.Add, ones * b)];
                }
                if (b == 2) return [Eq(a, ArithmeticOperation.Add, a)];
                int partial = a * (b - 1);
                return [Eq(a, ArithmeticOperation.Multiply, b - 1), Eq(partial, ArithmeticOperation.Add, a)];
            }
            default:
            {
                if (b == 4) return [Eq(a, ArithmeticOperation.Divide, 2), Eq(a / 2, ArithmeticOperation.Divide, 2)];
                if (b == 6) return [Eq(a, ArithmeticOperation.Divide, 2), Eq(a / 2, ArithmeticOperation.Divide, 3)];
                int block = 10 * b;
                int head = a / block * block;
                if (head > 0 && head < a)
                {
                    int tail = a - head;
                    return [Eq(head, ArithmeticOperation.Divide, b), Eq(tail, ArithmeticOperation.Divide, b),
                            Eq(head / b, ArithmeticOperation.Add, tail / b)];
                }
                return [Eq(b, ArithmeticOperation.Multiply, step.Result)];
            }
        }
    }
}
