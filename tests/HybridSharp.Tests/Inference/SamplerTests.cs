using HybridSharp.Inference;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Inference;

[Collection("Torch")]
public sealed class SamplerTests
{
    private static Tensor Logits(params float[] values) => tensor(values).reshape(1, values.Length);

    private static HashSet<long> Draws(SamplingOptions o, Tensor logits, int n = 300)
    {
        using var s = new Sampler(o, 1, logits.shape[1]);
        var seen = new HashSet<long>();
        for (int i = 0; i < n; i++) using (var t = s.Sample(logits)) seen.Add(t.item<long>());
        return seen;
    }

    [Fact]
    public void TopKSamplesOnlyFromTheKBest()
    {
        using var l = Logits(1f, 5f, 3f, 4f, 0f, 2f);
        var seen = Draws(new SamplingOptions { Temperature = 5, TopK = 2, TopP = 1, MinP = 0 }, l);
        Assert.Subset(new HashSet<long> { 1, 3 }, seen);
        Assert.Equal(2, seen.Count); // with a high temperature both must show up
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingTheMass()
    {
        // probabilities ≈ 0.64, 0.24, 0.09, 0.03 → top-p 0.8 keeps the first two
        using var l = Logits(3f, 2f, 1f, 0f);
        var seen = Draws(new SamplingOptions { Temperature = 1, TopK = 0, TopP = 0.8, MinP = 0 }, l, 400);
        Assert.Equal(new HashSet<long> { 0, 1 }, seen);
    }

    [Fact]
    public void MinPDropsUnlikelyTokens()
    {
        using var l = Logits(3f, 2.5f, -3f, -4f);
        var seen = Draws(new SamplingOptions { Temperature = 1, TopK = 0, TopP = 1, MinP = 0.1 }, l, 400);
        Assert.Equal(new HashSet<long> { 0, 1 }, seen);
    }

    [Fact]
    public void TemperatureZeroIsGreedyAndDeterministic()
    {
        using var l = Logits(0.1f, 0.3f, 0.2f);
        var seen = Draws(SamplingOptions.Greedy, l, 20);
        Assert.Equal(new HashSet<long> { 1 }, seen);
    }

    [Fact]
    public void SameSeedSameTokensDifferentSeedDifferentTokens()
    {
        using var l = Logits(Enumerable.Range(0, 50).Select(i => (float)Math.Sin(i)).ToArray());
        long[] Run(long seed)
        {
            using var s = new Sampler(new SamplingOptions { Temperature = 1.5, TopK = 0, TopP = 1, MinP = 0, Seed = seed }, 1, 50);
            return Enumerable.Range(0, 40).Select(_ => { using var t = s.Sample(l); return t.item<long>(); }).ToArray();
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }

    [Fact]
    public void PenaltiesPushDownRepeatedTokens()
    {
        using var l = Logits(2f, 1.9f);
        using var s = new Sampler(SamplingOptions.Greedy with { FrequencyPenalty = 0.5 }, 1, 2);
        using var first = s.Sample(l);
        Assert.Equal(0, first.item<long>());
        s.Observe(first);
        using var second = s.Sample(l);
        Assert.Equal(1, second.item<long>());

        using var r = new Sampler(SamplingOptions.Greedy with { RepetitionPenalty = 1.2 }, 1, 2);
        r.ObservePrompt(0, [0]);
        using var third = r.Sample(l);
        Assert.Equal(1, third.item<long>()); // 2/1.2 < 1.9
    }
}
