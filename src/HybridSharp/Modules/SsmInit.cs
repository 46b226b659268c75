using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// Initialisers shared by the SSD (Mamba-2) and Mamba-1 mixers. Each draws from <c>gen</c> in a fixed order, so a
/// seeded model initialises the same whichever mixer file calls it.
/// </summary>
internal static class SsmInit
{
    /// <summary>
    /// softplus⁻¹(Δ) for <paramref name="count"/> values Δ = exp(U(ln dtMin, ln dtMax)) clamped ≥ <paramref name="floor"/>
    /// (fp64): a bias that makes softplus(bias) start at a log-uniform step size. softplus⁻¹(Δ) = Δ + ln(−expm1(−Δ)).
    /// </summary>
    public static Tensor DtBias(long count, double dtMin, double dtMax, double floor, Generator? gen)
    {
        var dt = empty(count, ScalarType.Float64).uniform_(0.0, 1.0, gen)
            .mul_(Math.Log(dtMax) - Math.Log(dtMin)).add_(Math.Log(dtMin)).exp_().clamp_min_(floor);
        return dt.add(dt.neg().expm1().neg_().log_());
    }

    /// <summary>PyTorch's default depthwise conv init: weight and bias U(±1/√K) (fan_in = K).</summary>
    public static void ConvUniform(Conv1d conv, int kernel, Generator? gen)
    {
        double bound = 1.0 / Math.Sqrt(kernel);
        conv.weight!.uniform_(-bound, bound, gen);
        conv.bias?.uniform_(-bound, bound, gen);
    }
}
