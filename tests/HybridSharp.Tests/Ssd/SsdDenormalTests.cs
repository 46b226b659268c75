using HybridSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Ssd;

[Collection("Torch")]
public sealed class SsdDenormalTests
{
    [Fact]
    public void StrongDecaysBecomeExactZerosNotDenormals()
    {
        using var logs = tensor(new float[] { -100f, -90f, -61f, -10f, 0f });
        using var e = SsdKernels.DecayExp(logs);
        var v = e.data<float>().ToArray();
        Assert.Equal(0f, v[0]);
        Assert.Equal(0f, v[1]); // e^-90 would be a denormal fp32
        Assert.Equal(0f, v[2]);
        Assert.Equal((float)Math.Exp(-10), v[3], 6);
        Assert.Equal(1f, v[4]);
        Assert.DoesNotContain(v, x => x != 0 && Math.Abs(x) < 1.17549435e-38f); // no subnormal results
    }

    [Fact]
    public void StrongDecayChunkedFp32StillMatchesFp64()
    {
        manual_seed(2);
        long b = 1, t = 70, h = 2, p = 4, n = 4, g = 1;
        using var x = randn(b, t, h, p, dtype: ScalarType.Float64);
        using var dt = full(new long[] { b, t, h }, 2.5, dtype: ScalarType.Float64); // log-decay down to −160 per chunk
        using var a = tensor(new double[] { -1.0, -0.5 });
        using var bb = randn(b, t, g, n, dtype: ScalarType.Float64);
        using var cc = randn(b, t, g, n, dtype: ScalarType.Float64);
        var (y64, s64) = SsdKernels.Chunked(x, dt, a, bb, cc, 64, null);
        var (y32, s32) = SsdKernels.Chunked(x.to_type(ScalarType.Float32), dt.to_type(ScalarType.Float32), a.to_type(ScalarType.Float32),
            bb.to_type(ScalarType.Float32), cc.to_type(ScalarType.Float32), 64, null);
        Assert.True((y64 - y32.to_type(ScalarType.Float64)).abs().max().item<double>() < 1e-4);
        Assert.True((s64 - s32.to_type(ScalarType.Float64)).abs().max().item<double>() < 1e-4);
    }
}
