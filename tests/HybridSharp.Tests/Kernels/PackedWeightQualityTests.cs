using HybridSharp.Checkpoints;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Eval;
using HybridSharp.Inference;
using HybridSharp.Kernels;
using HybridSharp.Models;
using HybridSharp.Tests.Cli;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Kernels;

/// <summary>
/// Packed weights keep a trained model's quality: on held-out text, bf16 and int8 perplexity are within 1 % of fp32,
/// greedy generation through the managed kernels continues as the tensor path does, and the CLI takes --dtype.
/// </summary>
[Collection("Torch")]
public sealed class PackedWeightQualityTests(ITestOutputHelper output)
{
    private static readonly string[] Nouns = ["cat", "dog", "bird", "fox", "horse", "mouse", "owl", "frog"];
    private static readonly string[] Verbs = ["sees", "chases", "finds", "follows", "hears", "meets"];
    private static readonly string[] Adjectives = ["quick", "lazy", "small", "brown", "quiet", "happy"];

    /// <summary>Sentences of a tiny grammar: learnable in a few hundred steps, so perplexity means something.</summary>
    private static string Text(int sentences, int seed)
    {
        var rng = new Random(seed);
        string Pick(string[] words) => words[rng.Next(words.Length)];
        return string.Concat(Enumerable.Range(0, sentences).Select(_ => $"the {Pick(Adjectives)} {Pick(Nouns)} {Pick(Verbs)} the {Pick(Nouns)}. "));
    }

    private static CausalLM Trained()
    {
        var model = new CausalLM(Presets.Get("transformer-tiny"), seed: 3);
        var ids = new ByteTokenizer().Encode(Text(800, 1)).Select(i => (long)i).ToArray();
        using var optimizer = optim.AdamW(model.parameters(), lr: 3e-3);
        model.train();
        var rng = new Random(2);
        const int batch = 8, t = 128;
        for (int step = 0; step < 250; step++)
        {
            using var scope = NewDisposeScope();
            var starts = Enumerable.Range(0, batch).Select(_ => rng.Next(ids.Length - t - 1)).ToArray();
            var x = tensor(starts.SelectMany(s => ids[s..(s + t)]).ToArray(), [batch, t]);
            var y = tensor(starts.SelectMany(s => ids[(s + 1)..(s + t + 1)]).ToArray(), [batch, t]);
            optimizer.zero_grad();
            model.Loss(x, y).backward();
            optimizer.step();
        }
        model.eval();
        return model;
    }

    [Fact]
    public void Bf16AndInt8PerplexityStayWithinOnePercentOfFp32()
    {
        using var tmp = new TempDir();
        using (var model = Trained()) ModelDirectory.Save(model, new ByteTokenizer(), tmp["m"]);
        // Held-out texts no longer than the training windows (positions beyond them were never trained).
        var heldOut = Enumerable.Range(0, 16).Select(i => Text(3, 100 + i)).ToArray();
        var tokenizer = new ByteTokenizer();
        var perplexity = new Dictionary<WeightFormat, double>();
        var greedy = new Dictionary<WeightFormat, string>();
        foreach (var format in Enum.GetValues<WeightFormat>())
        {
            var (m, tok) = ModelDirectory.Load(tmp["m"]);
            using var _ = m;
            m.PackWeights(format);
            var scores = heldOut.Select(text => TextScorer.Score(m, tok, text)).ToList();
            perplexity[format] = Math.Exp(scores.Sum(x => x.TotalNll) / scores.Sum(x => x.Tokens));
            var options = new GenerationOptions { MaxNewTokens = 40, Sampling = new SamplingOptions { Temperature = 0 } };
            greedy[format] = new TextGenerator(m, tok).Generate("the quick ", options).Text;
            if (format == WeightFormat.Int8)
                Assert.Equal(greedy[format], new TextGenerator(m, tok) { ManagedKernels = false }.Generate("the quick ", options).Text);
        }
        output.WriteLine(string.Join(", ", perplexity.Select(p => $"{p.Key}: ppl {p.Value:F4}, greedy '{greedy[p.Key]}'")));
        Assert.True(perplexity[WeightFormat.Float32] < 4, $"the fixture model did not learn (perplexity {perplexity[WeightFormat.Float32]:F2})");
        Assert.True(perplexity[WeightFormat.BFloat16] <= perplexity[WeightFormat.Float32] * 1.01, "bf16 perplexity is more than 1 % worse");
        Assert.True(perplexity[WeightFormat.Int8] <= perplexity[WeightFormat.Float32] * 1.01, "int8 perplexity is more than 1 % worse");

        var (code, stdout, err) = HybridProcess.Run("score", "--model", tmp["m"], "--text", heldOut[0], "--dtype", "int8", "--json");
        Assert.True(code == 0, err);
        Assert.Contains("\"perplexity\"", stdout);
        var (gen, genOut, genErr) = HybridProcess.Run("generate", "--model", tmp["m"], "--prompt", "the quick ", "-n", "40", "-t", "0", "--dtype", "bf16");
        Assert.True(gen == 0, genErr);
        Assert.Contains(greedy[WeightFormat.BFloat16], genOut);
        var (bad, _, badErr) = HybridProcess.Run("generate", "--model", tmp["m"], "--prompt", "x", "--dtype", "q4");
        HybridProcess.AssertOneLineError(bad, badErr, "--dtype: unknown weight format 'q4' (choose fp32, bf16, int8)");
    }
}
