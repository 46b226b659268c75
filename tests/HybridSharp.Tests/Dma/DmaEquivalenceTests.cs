using HybridSharp.Config;
using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static HybridSharp.Tests.Dma.DmaTestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Dma;

/// <summary>DMA at A = 0 is plain attention; legacy and upstream layouts agree.</summary>
[Collection("Torch")]
public sealed class DmaEquivalenceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true, false, false, ScalarType.Float64)]
    [InlineData(true, true, false, ScalarType.Float64)]
    [InlineData(true, false, true, ScalarType.Float64)]
    [InlineData(true, true, true, ScalarType.Float64)]
    [InlineData(false, false, false, ScalarType.Float32)]
    [InlineData(false, true, true, ScalarType.Float32)]
    public void ZeroAEqualsPlainAttention(bool gqa, bool eager, bool padded, ScalarType dtype)
    {
        using var _ = no_grad();
        var cfg = TinyConfig(kvHeads: gqa ? 2 : 4);
        using var dma = Build(cfg, new DmaConfig { KeepWindowSize = 16 }, dtype, zeroA: true);
        dma.ForceEager = eager; // eager: top-k with k = min(w, Tk) = Tk, explicit softmax
        torch.manual_seed(9);
        using var attn = new Attention(cfg);
        attn.to(dtype);
        CopyParams(dma, attn);
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        using var x = randn(2, 7, cfg.HiddenSize, dtype: dtype);
        using var valid = padded ? tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1 }).reshape(2, 7) : null;

        using var keyMask = valid?.to_type(ScalarType.Bool);
        using var positions = keyMask is null
            ? arange(7, dtype: ScalarType.Int64).unsqueeze(0).expand(2, 7)
            : keyMask.to_type(ScalarType.Int64).cumsum(1).sub_(1).clamp_min_(0);
        var (cos, sin) = rope.Compute(positions, dtype);
        using var mask = KeyMask.Build(7, 0, keyMask, x.device);
        using var expected = attn.Forward(x, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask });
        using var got = dma.Forward(x, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask });
        double diff = MaxDiff(expected, got);
        output.WriteLine($"A=0 vs attention ({dtype}, gqa {gqa}, eager {eager}, padded {padded}): max |Δ| = {diff:E2}");
        Assert.True(diff <= Tolerance(dtype), $"max diff {diff}");
    }

    [Theory]
    [InlineData(3, false)]
    [InlineData(3, true)]
    [InlineData(64, false)]
    public void LegacyEqualsUpstreamWhenHeadsEqual(int window, bool qkNorm)
    {
        using var _ = no_grad();
        var cfg = TinyConfig(heads: 4, kvHeads: 4);
        using var up = Build(cfg, new DmaConfig { KeepWindowSize = window, QkNorm = qkNorm }, ScalarType.Float64);
        using var legacy = Build(cfg, new DmaConfig { KeepWindowSize = window, QkNorm = qkNorm, Layout = DmaConfig.Legacy }, ScalarType.Float64, seed: 99);
        Assert.True(legacy.IsLegacyLayout);
        Assert.Equal(up.MaskHeads, legacy.MaskHeads);
        CopyParams(up, legacy);
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        using var x = randn(2, 10, cfg.HiddenSize, dtype: ScalarType.Float64);
        using var a = Run(up, rope, x);
        using var b = Run(legacy, rope, x);
        double diff = MaxDiff(a, b);
        output.WriteLine($"legacy vs upstream, H = Hkv = 4, window {window}: max |Δ| = {diff:E2}");
        Assert.True(diff <= 1e-12, $"max diff {diff}");
    }

    [Fact]
    public void LegacyWithReplicatedMaskHeadsEqualsUpstreamUnderGqa()
    {
        // Query head h of the upstream layout uses mask head ⌊h/g⌋; a legacy layer whose per-query-head A and dt_proj
        // rows repeat the upstream ones that way must give the same output.
        using var _ = no_grad();
        var cfg = TinyConfig(heads: 4, kvHeads: 2);
        using var up = Build(cfg, new DmaConfig { KeepWindowSize = 3 }, ScalarType.Float64);
        using var legacy = Build(cfg, new DmaConfig { KeepWindowSize = 3, Layout = DmaConfig.Legacy }, ScalarType.Float64, seed: 99);
        Assert.Equal(2, up.MaskHeads);
        Assert.Equal(4, legacy.MaskHeads);
        foreach (var name in new[] { "q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight" })
            SetParam(legacy, name, up.get_parameter(name)!);
        var idx = tensor(new long[] { 0, 0, 1, 1 });
        SetParam(legacy, "A", up.get_parameter("A")!.index_select(0, idx));
        SetParam(legacy, "dt_proj.weight", up.get_parameter("dt_proj.weight")!.index_select(0, idx));
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        using var x = randn(2, 10, cfg.HiddenSize, dtype: ScalarType.Float64);
        using var a = Run(up, rope, x);
        using var b = Run(legacy, rope, x);
        Assert.True(MaxDiff(a, b) <= 1e-12, $"max diff {MaxDiff(a, b)}");
    }

    [Fact]
    public void ParameterNamesAndShapesFollowTheLayouts()
    {
        var cfg = TinyConfig(heads: 4, kvHeads: 2, headDim: 8);
        using var up = new DynamicMaskAttention(cfg, new DmaConfig { QkNorm = true });
        using var legacy = new DynamicMaskAttention(cfg, new DmaConfig { Layout = DmaConfig.Legacy });
        var upShapes = up.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(
            new[] { "A", "dt_proj.weight", "k_norm.weight", "k_proj.weight", "o_proj.weight", "q_norm.weight", "q_proj.weight", "v_proj.weight" },
            upShapes.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(new long[] { 2 }, upShapes["A"]);
        Assert.Equal(new long[] { 2, 16 }, upShapes["dt_proj.weight"]);
        Assert.Equal(new long[] { 8 }, upShapes["q_norm.weight"]);
        var legShapes = legacy.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.False(legShapes.ContainsKey("q_norm.weight"));
        Assert.Equal(new long[] { 4 }, legShapes["A"]);
        Assert.Equal(new long[] { 4, 16 }, legShapes["dt_proj.weight"]);
        Assert.Equal(0.0, up.get_parameter("A")!.abs().sum().item<float>());

        var biased = TinyConfig();
        biased.AttentionBias = true;
        using var withBias = new DynamicMaskAttention(biased, new DmaConfig());
        Assert.Contains(withBias.named_parameters(), p => p.name == "dt_proj.bias");
    }

    /// <summary>A parent holding the mixer in a field typed as the base module (how DecoderLayer can hold either mixer).</summary>
    private sealed class Holder : nn.Module
    {
#pragma warning disable IDE1006
        private readonly nn.Module self_attn;
#pragma warning restore IDE1006
        public Holder(nn.Module mixer) : base("Holder") { self_attn = mixer; RegisterComponents(); }
    }

    [Fact]
    public void RegistersUnderABaseTypedField()
    {
        using var h = new Holder(new DynamicMaskAttention(TinyConfig(), new DmaConfig()));
        var names = h.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("self_attn.A", names);
        Assert.Contains("self_attn.dt_proj.weight", names);
    }
}
