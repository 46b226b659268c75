// OTCE "logn" length scaling (Shi et al. 2024, arXiv 2406.16495; and "OTCE attention"):
//   s_t = max(1, ln(64 + i_t) / ln(4096)),   i_t = position_t + 1   (absolute position, so prefill + decode ≡ full forward)
//   C_t ← s_t · C_t in Mamba-1 layers,   Q_t ← s_t · Q_t in attention layers
// 4096 is OTCE's average training length; s_t = 1 exactly for i_t ≤ 4032, i.e. positions ≤ 4031. Upstream counts i_t
// within the current call (1..T); HybridSharp uses absolute positions (a deviation only beyond 4032 tokens).
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>The per-token OTCE logn factor; computed once per forward by the model and passed to every layer.</summary>
public static class LognScaling
{
    /// <summary>The length the factor is normalised to (OTCE: 4096, "the average training length").</summary>
    public const long TrainingLength = 4096;
    /// <summary>The offset inside the logarithm: ln(Offset + i).</summary>
    public const long Offset = 64;
    /// <summary>The first 0-based position whose factor exceeds 1 (i = 4033).</summary>
    public const long FirstScaledPosition = TrainingLength - Offset;

    /// <summary>s(p) = max(1, ln(64 + p + 1) / ln 4096) for one 0-based position, in double precision (reference).</summary>
    public static double Factor(long position) => Math.Max(1.0, Math.Log(Offset + position + 1) / Math.Log(TrainingLength));

    /// <summary>
    /// Factors for <paramref name="positions"/> (int64, any shape; 0-based absolute positions) in the compute type of
    /// <paramref name="activationType"/> (fp32, or fp64 for fp64 models), or null when every factor is exactly 1, so the
    /// common case adds no work. <paramref name="maxPositionBound"/>: an upper bound on the largest position known on the
    /// host (null = unknown); when it is below <see cref="FirstScaledPosition"/> no tensor op or device sync runs.
    /// </summary>
    public static Tensor? Factors(Tensor positions, ScalarType activationType, long? maxPositionBound = null)
    {
        if (maxPositionBound is { } bound && bound < FirstScaledPosition) return null;
        if (positions.numel() == 0) return null;
        using var scope = NewDisposeScope();
        if (positions.max().item<long>() < FirstScaledPosition) return null;
        var cdt = activationType == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var f = positions.to_type(ScalarType.Float64).add(Offset + 1).log_().div_(Math.Log(TrainingLength)).clamp_min_(1.0).to_type(cdt);
        return f.MoveToOuterDisposeScope();
    }
}
