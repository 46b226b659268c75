using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Moe;

/// <summary>Helpers shared by the MoE tests.</summary>
internal static class MoeTestUtil
{
    /// <summary>The parameter called <paramref name="name"/> (module-relative dotted name).</summary>
    public static Tensor Param(nn.Module m, string name) =>
        m.named_parameters().Single(p => p.name == name).parameter;

    /// <summary>Overwrites a parameter's values without recording gradients.</summary>
    public static void Set(nn.Module m, string name, Tensor value)
    {
        using var _ = no_grad();
        Param(m, name).copy_(value);
    }

    public static double MaxAbs(Tensor a, Tensor b) =>
        a.to_type(ScalarType.Float64).sub(b.to_type(ScalarType.Float64)).abs().max().item<double>();

    public static long[] Longs(Tensor t)
    {
        using var c = t.to_type(ScalarType.Int64).cpu().contiguous();
        using var acc = c.data<long>();
        return acc.ToArray();
    }

    public static double[] Doubles(Tensor t)
    {
        using var c = t.to_type(ScalarType.Float64).cpu().contiguous();
        using var acc = c.data<double>();
        return acc.ToArray();
    }
}
