using HybridSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Modules;

[Collection("Torch")]
public sealed class RotaryEmbeddingTests
{
    /// <summary>
    /// The fp32 table equals cos/sin of the exact angle to fp32 rounding at every position: angles are formed in fp64.
    /// (Formed in fp32, position × frequency is off by up to ≈ 5e-4 radians at position 4095.)
    /// </summary>
    [Theory]
    [InlineData(64, 10000.0)]
    [InlineData(128, 500000.0)]
    public void Fp32TablesMatchExactAnglesAtLongPositions(int dim, double theta)
    {
        var rope = new RotaryEmbedding(dim, theta, maxPositionEmbeddings: 8192);
        long[] positions = [0, 1, 700, 2047, 4095, 8191];
        using var p = tensor(positions).unsqueeze(0);
        var (cos, sin) = rope.Compute(p, ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, cos.dtype);
        var c = cos.to_type(ScalarType.Float64).data<double>().ToArray();
        var s = sin.to_type(ScalarType.Float64).data<double>().ToArray();
        double worst = 0;
        for (int t = 0; t < positions.Length; t++)
            for (int i = 0; i < dim; i++)
            {
                double angle = positions[t] * Math.Pow(theta, -2.0 * (i % (dim / 2)) / dim);
                worst = Math.Max(worst, Math.Max(Math.Abs(c[t * dim + i] - Math.Cos(angle)), Math.Abs(s[t * dim + i] - Math.Sin(angle))));
            }
        Assert.True(worst <= 1e-7, $"max |Δ| = {worst:E2}");
        cos.Dispose();
        sin.Dispose();
    }
}
