using HybridSharp.Config;
using HybridSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Ssd;

/// <summary>Tiny SSD configurations and comparison helpers shared by the SSD tests.</summary>
internal static class SsdTestUtil
{
    /// <summary>Full Mamba-2 mixer: conv, gate + grouped norm, D, G = 2 groups over H = 4 heads, no rope; Q = 4.</summary>
    public static ModelConfig Mamba2Config() => new()
    {
        HiddenSize = 16,
        NumAttentionHeads = 2,
        Ssd = new SsdConfig
        {
            Expand = 2, HeadDim = 8, StateSize = 6, NGroups = 2, ConvKernel = 4, UseConvBias = true,
            Gated = true, UseD = true, Rope = false, ChunkSize = 4,
        },
    };

    /// <summary>Stripped (Cheems / TransXSSM) mixer: no conv, no gate, no D, rope on B/C; N = P = 8, G = H = 2; Q = 4.</summary>
    public static ModelConfig StrippedConfig() => new()
    {
        HiddenSize = 16,
        NumAttentionHeads = 2,
        Ssd = new SsdConfig
        {
            Expand = 1, HeadDim = 8, StateSize = 8, NGroups = 2, ConvKernel = 0,
            Gated = false, UseD = false, Rope = true, ChunkSize = 4,
        },
    };

    public static ModelConfig MixerConfig(bool stripped) => stripped ? StrippedConfig() : Mamba2Config();

    /// <summary>Builds a mixer with seeded weights (outside any dispose scope) in the given dtype.</summary>
    public static SsdMixer NewMixer(ModelConfig cfg, ScalarType dtype, long seed = 7)
    {
        manual_seed(seed);
        var m = new SsdMixer(cfg);
        using (var gen = new Generator((ulong)seed + 1)) m.InitializeParameters(gen);
        if (dtype != ScalarType.Float32) m.to(dtype);
        return m;
    }

    /// <summary>cos/sin [B, T, N] at the given positions [B, T] from the model's rotary module.</summary>
    public static (Tensor Cos, Tensor Sin) Rope(Tensor positions, int dim, ScalarType dtype) =>
        new RotaryEmbedding(dim, 10000).Compute(positions, dtype);

    /// <summary>The same table computed entirely in fp64 (for exactness assertions on relative positions).</summary>
    public static (Tensor Cos, Tensor Sin) RopeFp64(Tensor positions, int dim)
    {
        var idx = arange(0, dim, 2, dtype: ScalarType.Float64);
        var invFreq = pow(10000.0, idx.div(dim)).reciprocal();
        var freqs = positions.to_type(ScalarType.Float64).unsqueeze(-1).mul(invFreq);
        var emb = cat([freqs, freqs], -1);
        return (emb.cos(), emb.sin());
    }

    public static Tensor Positions(long batch, long start, long count) =>
        arange(start, start + count, dtype: ScalarType.Int64).unsqueeze(0).expand(batch, count).contiguous();

    public static double MaxAbs(Tensor a, Tensor b) =>
        a.to_type(ScalarType.Float64).sub(b.to_type(ScalarType.Float64)).abs().max().item<double>();

    public static double MaxAbs(Tensor a) => a.to_type(ScalarType.Float64).abs().max().item<double>();

    public static bool AllFinite(Tensor a) => a.isfinite().all().item<bool>();
}
