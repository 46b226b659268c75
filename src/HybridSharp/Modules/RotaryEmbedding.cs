// Rotary position embedding (Su et al., RoFormer), NeoX "half-split" convention, shared by every layer of a model
// (the TransXSSM / Cheems "Unified RoPE": the same table later rotates C/B in SSD layers).
//   inv_freq_i = θ^(−2i/D),  φ_{p,i} = p · inv_freq_i,  cos_p = [cos φ_p | cos φ_p],  sin_p likewise
//   rot_p(v) = v ⊙ cos_p + rotate_half(v) ⊙ sin_p,   rotate_half([v₁ | v₂]) = [−v₂ | v₁]
// Dynamic NTK scaling (HF "dynamic"): when S = max position + 1 exceeds M,
//   θ' = θ · ((f·S/M) − (f − 1))^(D/(D−2)).
using HybridSharp.Config;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// Computes cos/sin tables (fp32, cast to the activation dtype) for explicit absolute positions.
/// Not a parameterised module: it holds no weights, so every layer can share one instance.
/// </summary>
public sealed class RotaryEmbedding
{
    public int Dim { get; }
    public double Theta { get; }
    public RopeScaling? Scaling { get; }
    public int MaxPositionEmbeddings { get; }

    public RotaryEmbedding(int dim, double theta, RopeScaling? scaling = null, int maxPositionEmbeddings = 2048)
    {
        if (dim <= 0 || dim % 2 != 0) throw new ArgumentException($"rotary dim must be positive and even, got {dim}");
        Dim = dim;
        Theta = theta;
        Scaling = scaling;
        MaxPositionEmbeddings = maxPositionEmbeddings;
    }

    /// <summary>The base θ in effect for a sequence whose largest position is <paramref name="maxPosition"/>.</summary>
    public double EffectiveTheta(long maxPosition)
    {
        if (Scaling is not { RopeType: "dynamic" } s) return Theta;
        long m = s.OriginalMaxPositionEmbeddings ?? MaxPositionEmbeddings;
        long seq = maxPosition + 1;
        if (seq <= m) return Theta;
        double f = s.Factor;
        return Theta * Math.Pow(f * seq / m - (f - 1), Dim / (double)(Dim - 2));
    }

    /// <summary>
    /// cos and sin for <paramref name="positions"/> (int64, any shape [...]) → two tensors [..., Dim].
    /// </summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long maxPos = positions.numel() == 0 ? 0 : positions.max().item<long>();
        double theta = EffectiveTheta(maxPos);
        // Angles in fp32 (as HF does) unless the model runs in fp64, where fp64 angles keep exactness tests tight.
        var angleType = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var idx = arange(0, Dim, 2, dtype: ScalarType.Float64, device: positions.device);
        var invFreq = pow(theta, idx.div(Dim)).reciprocal().to_type(angleType);
        var freqs = positions.to_type(angleType).unsqueeze(-1).mul(invFreq); // [..., D/2]
        var emb = cat([freqs, freqs], -1);
        var cos = emb.cos().to_type(dtype);
        var sin = emb.sin().to_type(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>rotate_half([v₁ | v₂]) = [−v₂ | v₁] on the last dimension.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        using var scope = NewDisposeScope();
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return cat([x2.neg(), x1], -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rotates <paramref name="x"/> [B, heads, T, D] with cos/sin [B, T, D] (or [T, D]).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        Tensor c = cos, s = sin;
        if (cos.dim() == 3) { c = cos.unsqueeze(1); s = sin.unsqueeze(1); }
        var y = x.mul(c).add_(RotateHalf(x).mul_(s));
        return y.MoveToOuterDisposeScope();
    }
}
