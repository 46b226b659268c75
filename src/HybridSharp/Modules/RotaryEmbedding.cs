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
        // Only dynamic NTK scaling depends on the longest position (reading it costs a sync and two ops per decode token).
        double theta = Scaling is { RopeType: "dynamic" } ? EffectiveTheta(positions.numel() == 0 ? 0 : positions.max().item<long>()) : Theta;
        // Angles in fp32 (as HF does) unless the model runs in fp64, where fp64 angles keep exactness tests tight.
        var angleType = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var freqs = positions.to_type(angleType).unsqueeze(-1).mul(InverseFrequencies(theta, angleType, positions.device)); // [..., D/2]
        var emb = cat([freqs, freqs], -1);
        var cos = emb.cos();
        var sin = emb.sin_();
        if (dtype != angleType) { cos = cos.to_type(dtype); sin = sin.to_type(dtype); }
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    private (double Theta, ScalarType Type, string Device, Tensor Value)? _invFreq;

    /// <summary>θ^(−2i/D) for i = 0 … D/2−1, computed in fp64 and kept per (θ, dtype, device): one decode token needs it once.</summary>
    private Tensor InverseFrequencies(double theta, ScalarType type, Device device)
    {
        if (_invFreq is { } c && c.Theta == theta && c.Type == type && c.Device == device.ToString() && !c.Value.IsInvalid) return c.Value;
        using (NewDisposeScope())
        {
            var idx = arange(0, Dim, 2, dtype: ScalarType.Float64, device: device);
            var value = pow(theta, idx.div(Dim)).reciprocal().to_type(type).DetachFromDisposeScope();
            _invFreq?.Value.Dispose();
            _invFreq = (theta, type, device.ToString(), value);
            return value;
        }
    }

    /// <summary>θ^(−2i/D) for i = 0 … D/2−1 as fp32 (computed in fp64, then rounded), for the managed decode kernels.</summary>
    public float[] InverseFrequencies32(double theta)
    {
        var inv = new float[Dim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = (float)(1.0 / Math.Pow(theta, 2.0 * i / Dim));
        return inv;
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
        if (cos.dim() == 3) return Rotate(x, cos.unsqueeze(1), sin.unsqueeze(1));
        return Rotate(x, cos, sin);
    }

    /// <summary>Element count up to which <see cref="Rotate"/> minimises tensor calls rather than memory passes.</summary>
    private const long SmallRotation = 1 << 16;

    /// <summary>
    /// x·cos + rotate_half(x)·sin with cos/sin already broadcastable to x. Under autograd it keeps the rotate_half form,
    /// whose backward is plain element-wise work (no copy-slices nodes). Without autograd, small tensors (one-token
    /// decode, where each tensor call costs microseconds of overhead) take the fewest calls: rotate_half(x)·sin is
    /// roll(x, half)·sin with its first half negated; large ones (prefill, scoring) take the fewest passes over memory:
    /// one product and two in-place half updates (y₁ −= x₂·sin₁, y₂ += x₁·sin₂).
    /// </summary>
    public static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        if (is_grad_enabled()) return x.mul(cos).add_(RotateHalf(x).mul_(sin)).MoveToOuterDisposeScope();
        long half = x.size(-1) / 2;
        if (x.numel() > SmallRotation)
        {
            var y = x.mul(cos);
            y.narrow(-1, 0, half).addcmul_(x.narrow(-1, half, half), sin.narrow(-1, 0, half), -1);
            y.narrow(-1, half, half).addcmul_(x.narrow(-1, 0, half), sin.narrow(-1, half, half), 1);
            return y.MoveToOuterDisposeScope();
        }
        var r = x.roll(half, -1).mul(sin);
        r.narrow(-1, 0, half).neg_();
        return x.mul(cos).add_(r).MoveToOuterDisposeScope();
    }
}
