using HybridSharp.Models;
using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Models;

[Collection("Torch")]
public sealed class AttentionModelTests
{
    private static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Fact]
    public void RmsNormMatchesHandComputedValues()
    {
        using var norm = new RmsNorm(4, 1e-6);
        using var x = tensor(new float[] { 1, 2, 3, 4 }).reshape(1, 4);
        using var y = norm.forward(x);
        double rms = Math.Sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6);
        var got = y.data<float>().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal((i + 1) / rms, got[i], 5);
    }

    [Theory]
    [InlineData(2, 3, 5)]     // decode-sized: the roll form
    [InlineData(4, 2, 2100)]  // over 64K elements: the in-place half updates
    public void RopeInferencePathsEqualTheRotateHalfForm(int b, int h, int t)
    {
        var rope = new RotaryEmbedding(16, 10000);
        using var pos = arange(7, 7 + t, dtype: ScalarType.Int64).unsqueeze(0).expand(b, t);
        var (cos, sin) = rope.Compute(pos, ScalarType.Float32);
        using var x = randn(b, h, t, 16, generator: new Generator(5));
        using var want = x.mul(cos.unsqueeze(1)).add(RotaryEmbedding.RotateHalf(x).mul(sin.unsqueeze(1)));
        using var _ = no_grad();
        using var got = RotaryEmbedding.Apply(x, cos, sin);
        Assert.True(got.allclose(want, rtol: 0, atol: 1e-6), $"max diff {got.sub(want).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(true)]  // rotate_half form (autograd)
    [InlineData(false)] // inference form
    public void RopeRotatesPairsByHandComputedAngles(bool grad)
    {
        using var mode = grad ? null : no_grad();
        var rope = new RotaryEmbedding(4, 10000);
        using var pos = tensor(new long[] { 3 }).reshape(1, 1);
        var (cos, sin) = rope.Compute(pos, ScalarType.Float32);
        using var v = tensor(new float[] { 1, 2, 3, 4 }).reshape(1, 1, 1, 4);
        using var r = RotaryEmbedding.Apply(v, cos, sin);
        var got = r.data<float>().ToArray();
        // Pairs (0,2) and (1,3) rotate by 3·θ^0 and 3·θ^(-1/2).
        double a0 = 3.0, a1 = 3.0 / 100.0;
        Assert.Equal(1 * Math.Cos(a0) - 3 * Math.Sin(a0), got[0], 5);
        Assert.Equal(3 * Math.Cos(a0) + 1 * Math.Sin(a0), got[2], 5);
        Assert.Equal(2 * Math.Cos(a1) - 4 * Math.Sin(a1), got[1], 5);
        Assert.Equal(4 * Math.Cos(a1) + 2 * Math.Sin(a1), got[3], 5);
    }

    [Fact]
    public void RopeDotProductDependsOnlyOnRelativePosition()
    {
        var rope = new RotaryEmbedding(8, 10000);
        torch.manual_seed(1);
        using var q = randn(1, 1, 1, 8);
        using var k = randn(1, 1, 1, 8);
        double Dot(long pq, long pk)
        {
            var (cq, sq) = rope.Compute(tensor(new[] { pq }).reshape(1, 1), ScalarType.Float32);
            var (ck, sk) = rope.Compute(tensor(new[] { pk }).reshape(1, 1), ScalarType.Float32);
            return (RotaryEmbedding.Apply(q, cq, sq) * RotaryEmbedding.Apply(k, ck, sk)).sum().item<float>();
        }
        Assert.Equal(Dot(5, 2), Dot(105, 102), 4);
        Assert.Equal(Dot(9, 9), Dot(0, 0), 4);
        Assert.NotEqual(Dot(5, 2), Dot(5, 4), 3);
    }

    [Theory]
    [InlineData(true, true, false)]
    [InlineData(false, false, true)]
    public void PrefillThenDecodeEqualsFullForward(bool gqa, bool tie, bool residual)
    {
        using var model = new CausalLM(TinyModels.Transformer(gqa, tie, residual), seed: 7);
        model.eval();
        using var _ = no_grad();
        torch.manual_seed(3);
        using var ids = randint(0, 37, [2, 12], dtype: ScalarType.Int64);
        using var full = model.Forward(ids);
        using var cache = model.NewCache(2, 32);
        // prefill 5, chunked prefill 4 on the cache, then 3 single-token decode steps
        var parts = new List<Tensor> { model.Forward(ids.narrow(1, 0, 5), cache), model.Forward(ids.narrow(1, 5, 4), cache) };
        for (int i = 9; i < 12; i++) parts.Add(model.Forward(ids.narrow(1, i, 1), cache));
        using var stitched = cat(parts, 1);
        Assert.True(MaxDiff(full, stitched) <= 1e-5, $"max diff {MaxDiff(full, stitched)}");
        Assert.Equal(12, cache.Length);
    }

    [Fact]
    public void ChangingALaterTokenChangesNoEarlierLogit()
    {
        using var model = new CausalLM(TinyModels.Transformer(), seed: 11);
        model.eval();
        using var _ = no_grad();
        using var ids = randint(0, 37, [1, 10], dtype: ScalarType.Int64);
        using var ids2 = ids.clone();
        ids2[0, 6] = (ids[0, 6] + 1) % 37;
        using var a = model.Forward(ids);
        using var b = model.Forward(ids2);
        Assert.Equal(0.0, MaxDiff(a.narrow(1, 0, 6), b.narrow(1, 0, 6)));
        Assert.True(MaxDiff(a.narrow(1, 6, 4), b.narrow(1, 6, 4)) > 1e-6);
    }

    [Fact]
    public void LeftPaddedBatchMatchesSingleSequences()
    {
        using var model = new CausalLM(TinyModels.Transformer(), seed: 5);
        model.eval();
        using var _ = no_grad();
        using var longIds = tensor(new long[] { 1, 2, 3, 4, 5, 6 }).reshape(1, 6);
        using var shortIds = tensor(new long[] { 7, 8, 9 }).reshape(1, 3);
        using var batch = tensor(new long[] { 1, 2, 3, 4, 5, 6, 0, 0, 0, 7, 8, 9 }).reshape(2, 6);
        using var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1 }).reshape(2, 6);
        using var cache = model.NewCache(2, 10);
        using var batched = model.Forward(batch, cache, mask);
        using var refLong = model.Forward(longIds);
        using var refShort = model.Forward(shortIds);
        Assert.True(MaxDiff(batched[0], refLong[0]) < 1e-5);
        Assert.True(MaxDiff(batched[1].narrow(0, 3, 3), refShort[0]) < 1e-5);
        // one decode step on both rows
        using var next = tensor(new long[] { 10, 11 }).reshape(2, 1);
        using var step = model.Forward(next, cache);
        using var refLong2 = model.Forward(cat([longIds, tensor(new long[] { 10 }).reshape(1, 1)], 1));
        using var refShort2 = model.Forward(cat([shortIds, tensor(new long[] { 11 }).reshape(1, 1)], 1));
        Assert.True(MaxDiff(step[0, 0], refLong2[0, 6]) < 1e-5);
        Assert.True(MaxDiff(step[1, 0], refShort2[0, 3]) < 1e-5);
    }

    [Fact]
    public void WeightNamesFollowTheCheckpointConvention()
    {
        using var model = new CausalLM(TinyModels.Transformer(tie: false, residualVectors: true, layers: 1));
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        string[] expected =
        [
            "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
            "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
            "model.layers.0.input_residual", "model.layers.0.post_attention_residual",
        ];
        Assert.Equal(expected.OrderBy(x => x), names.OrderBy(x => x));
    }
}
