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

    /// <summary>
    /// Arithmetic practice without word problems or solution styles: each document is BOS + the step equations of
    /// generated problems (one chain per line, "a op b = c" with the generator's number ranges). Used to give a small
    /// student basic arithmetic before reasoning fine-tuning, so that SFT compares reasoning formats, not arithmetic
    /// learnt from scratch. <paramref name="chainsPerDocument"/> chains are joined by newlines.
    /// </summary>
    public static IEnumerable<string> EquationDocuments(ITokenizer tokenizer, int count, int seed, int minDifficulty, int maxDifficulty, int chainsPerDocument = 4)
    {
        var bos = tokenizer.Decode([tokenizer.BosId]);
        var gen = new ArithmeticGenerator(seed);
        for (int i = 0; i < count; i++)
        {
            var chains = Enumerable.Range(0, chainsPerDocument).Select(k =>
            {
                int d = minDifficulty + (i * chainsPerDocument + k) % (maxDifficulty - minDifficulty + 1);
                return string.Join("\n", gen.Generate(d).Steps.Select(s => s.Equation));
            });
            yield return bos + string.Join("\n", chains);
        }
    }

    /// <summary>
    /// Word problems read into arithmetic, with no solution style: each document is BOS + a generated question + a newline
    /// + its step equations, one per line (no prose, no answer box). Stands in for the reading a pretrained LLM brings to
    /// reasoning fine-tuning. Questions in <paramref name="exclude"/> (the evaluation set) are skipped, so no held-out
    /// problem is ever seen.
    /// </summary>
    public static IEnumerable<string> ProblemEquationDocuments(ITokenizer tokenizer, int count, int seed, int minDifficulty, int maxDifficulty,
        IReadOnlySet<string>? exclude = null)
    {
        var bos = tokenizer.Decode([tokenizer.BosId]);
        var gen = new ArithmeticGenerator(seed);
        int span = maxDifficulty - minDifficulty + 1;
        for (int i = 0, made = 0; made < count; i++)
        {
            if (i > count * 20 + 1000) throw new ArgumentException($"could not generate {count} problems outside the excluded set");
            var p = gen.Generate(minDifficulty + made % span);
            if (exclude is not null && exclude.Contains(p.Question)) continue;
            made++;
            yield return bos + p.Question + "\n" + string.Join("\n", p.Steps.Select(s => s.Equation));
        }
    }
}
