using HybridSharp.Config;
using HybridSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;
using HybridSharp.Caching;

namespace HybridSharp.Tests.Dma;

/// <summary>Tiny DMA configurations and a driver that mimics how CausalLM calls a mixer (positions, mask, cache).</summary>
internal static class DmaTestUtil
{
    public static ModelConfig TinyConfig(int heads = 4, int kvHeads = 2, int headDim = 8, int hidden = 32) => new()
    {
        VocabSize = 37,
        HiddenSize = hidden,
        IntermediateSize = 48,
        NumHiddenLayers = 1,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        HeadDimOverride = headDim,
        MaxPositionEmbeddings = 256,
    };

    /// <summary>A DMA layer with seeded random weights and, unless <paramref name="zeroA"/>, A drawn from [−3, −0.5].</summary>
    public static DynamicMaskAttention Build(ModelConfig cfg, DmaConfig dma, ScalarType dtype, long seed = 7, bool zeroA = false)
    {
        torch.manual_seed(seed);
        var m = new DynamicMaskAttention(cfg, dma);
        m.to(dtype);
        if (!zeroA)
        {
            using var a = rand(m.MaskHeads, dtype: ScalarType.Float64).mul_(-2.5).sub_(0.5);
            SetParam(m, "A", a);
        }
        m.eval();
        return m;
    }

    public static void SetParam(nn.Module m, string name, Tensor value)
    {
        using var _ = no_grad();
        var p = m.named_parameters().Single(x => x.name == name).parameter;
        p.copy_(value.to_type(p.dtype).reshape(p.shape));
    }

    /// <summary>Copies every parameter of <paramref name="src"/> whose name exists in <paramref name="dst"/>.</summary>
    public static void CopyParams(nn.Module src, nn.Module dst)
    {
        var s = src.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var _ = no_grad();
        foreach (var (name, p) in dst.named_parameters())
            if (s.TryGetValue(name, out var sp)) p.copy_(sp);
    }

    /// <summary>
    /// One call as CausalLM makes it: positions past … past+T−1 (or counting real tokens only with padding), the mask
    /// built once, the layer, then cache.Advance. <paramref name="attentionMask"/> [B, T] marks real tokens.
    /// </summary>
    public static Tensor Run(DynamicMaskAttention m, RotaryEmbedding rope, Tensor x, InferenceCache? cache = null,
        Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], past = cache?.Length ?? 0;
        Tensor? keyMask = null;
        if (cache is not null)
        {
            cache.MarkValid(attentionMask, t);
            if (cache.HasPadding) keyMask = cache.AttentionMask;
        }
        else if (attentionMask is not null) keyMask = attentionMask.to_type(ScalarType.Bool);

        Tensor positions = keyMask is null
            ? arange(past, past + t, dtype: ScalarType.Int64).unsqueeze(0).expand(b, t)
            : keyMask.narrow(1, 0, past + t).to_type(ScalarType.Int64).cumsum(1).sub_(1).clamp_min_(0).narrow(1, past, t);
        var (cos, sin) = rope.Compute(positions, x.dtype);
        using var mask = KeyMask.Build(t, past, keyMask, x.device);
        var y = m.Forward(x, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask, Cache = cache });
        cache?.Advance(t);
        return y.MoveToOuterDisposeScope();
    }

    public static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().to_type(ScalarType.Float64).item<double>();

    public static double Tolerance(ScalarType dtype) => dtype == ScalarType.Float64 ? 1e-12 : 1e-5;
}
