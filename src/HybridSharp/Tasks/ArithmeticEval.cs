using HybridSharp.Inference;
using HybridSharp.Tasks;

namespace HybridSharp.Tasks;

/// <summary>Runs the arithmetic evaluator with a model: greedy, batched generation that stops at end of text.</summary>
public static class ArithmeticEval
{
    public static ArithmeticReport Run(TextGenerator generator, IReadOnlyList<ArithmeticProblem> problems, int batchSize = 16, int maxNewTokens = 160, Action<int>? onProgress = null)
    {
        var options = new GenerationOptions { MaxNewTokens = maxNewTokens, Sampling = SamplingOptions.Greedy, AddBos = true };
        int done = 0;
        return new ArithmeticEvaluator(batchSize).Evaluate(problems, prompts =>
        {
            var results = generator.Generate(prompts, options);
            done += prompts.Count;
            onProgress?.Invoke(done);
            return results.Select(r => new Completion(r.Text, r.GeneratedTokens)).ToList();
        });
    }

    /// <summary>Held-out problems: a seed disjoint from the training corpus's.</summary>
    public static IReadOnlyList<ArithmeticProblem> HeldOut(int count, int minDifficulty, int maxDifficulty, int seed = 99_991) =>
        new ArithmeticGenerator(seed).Generate(count, minDifficulty, maxDifficulty);
}
