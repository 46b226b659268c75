using HybridSharp.Data;

namespace HybridSharp.Tasks;

/// <summary>Training documents for the arithmetic task: BOS + prompt + solution (the corpus builder appends EOS).</summary>
public static class ArithmeticCorpus
{
    public static IEnumerable<string> Documents(ITokenizer tokenizer, int count, int seed, int minDifficulty, int maxDifficulty, SolutionStyle style)
    {
        var bos = tokenizer.Decode([tokenizer.BosId]);
        var gen = new ArithmeticGenerator(seed);
        for (int i = 0; i < count; i++)
        {
            int d = minDifficulty + i % (maxDifficulty - minDifficulty + 1);
            var p = gen.Generate(d);
            yield return bos + ArithmeticFormat.TrainingDocument(p, style, seed: i);
        }
    }
}
