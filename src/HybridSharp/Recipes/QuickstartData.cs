using HybridSharp.Data;
using HybridSharp.Sft;
using HybridSharp.Tasks;

namespace HybridSharp.Recipes;

/// <summary>
/// The quickstart's examples: each is BOS + <c>"Question: …\nAnswer: "</c> + the concise step-by-step solution + EOS,
/// one problem per row, with the loss on the solution and EOS (or on every token). Problems whose question is in the
/// held-out set are never trained on. Everything is fixed by the options' seed.
/// </summary>
public static class QuickstartData
{
    /// <summary>Share of the generated problems kept aside for the validation loss.</summary>
    public const double ValidationFraction = 0.02;

    /// <summary>Seed of the held-out problems; training problems that happen to equal one of them are skipped.</summary>
    public const int HeldOutSeed = 99_991;

    /// <summary>The held-out problems the quickstart evaluates.</summary>
    public static IReadOnlyList<ArithmeticProblem> HeldOut(QuickstartOptions options) =>
        new ArithmeticGenerator(HeldOutSeed, options.Arithmetic).Generate(options.EvalProblems, 1, options.MaxDifficulty);

    /// <summary>Training and validation examples, and the training problems they came from.</summary>
    public static (List<SftExample> Train, List<SftExample> Validation, List<ArithmeticProblem> TrainProblems) Build(
        QuickstartOptions options, ITokenizer tokenizer)
    {
        options.Validate();
        var heldOut = HeldOut(options).Select(p => p.Question).ToHashSet(StringComparer.Ordinal);
        var generator = new ArithmeticGenerator(options.Seed, options.Arithmetic);
        int validation = Math.Max(1, (int)(options.Problems * ValidationFraction));
        var train = new List<SftExample>(options.Problems);
        var val = new List<SftExample>(validation);
        var problems = new List<ArithmeticProblem>(options.Problems);
        for (int made = 0, drawn = 0; made < options.Problems + validation; drawn++)
        {
            if (drawn > 20 * (options.Problems + validation) + 1000)
                throw new ArgumentException("the number ranges allow too few distinct problems outside the held-out set");
            var problem = generator.Generate(ArithmeticGenerator.MinDifficulty + made % options.MaxDifficulty);
            if (heldOut.Contains(problem.Question)) continue;
            var example = Encode(problem, tokenizer, options.SolutionLossOnly);
            if (made < options.Problems) { train.Add(example); problems.Add(problem); }
            else val.Add(example);
            made++;
        }
        return (train, val, problems);
    }

    /// <summary>One problem as token ids with its loss mask.</summary>
    public static SftExample Encode(ArithmeticProblem problem, ITokenizer tokenizer, bool solutionLossOnly)
    {
        var prompt = tokenizer.Encode(ArithmeticFormat.Prompt(problem));
        var solution = tokenizer.Encode(ArithmeticFormat.Completion(problem, SolutionStyle.Concise));
        int[] ids = [tokenizer.BosId, .. prompt, .. solution, tokenizer.EosId];
        var inLoss = new bool[ids.Length];
        Array.Fill(inLoss, true, solutionLossOnly ? 1 + prompt.Length : 1, ids.Length - (solutionLossOnly ? 1 + prompt.Length : 1));
        return new SftExample(ids, inLoss);
    }
}
