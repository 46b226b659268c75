using HybridSharp.Modules;
using Xunit;
using static HybridSharp.Tests.Mamba1.Mamba1TestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Mamba1;

/// <summary>The chunked selective scan against the naive per-token recurrence (the oracle).</summary>
[Collection("Torch")]
public sealed class Mamba1KernelTests
{
    [Theory]
    [InlineData(4, 13)]   // T not a multiple of Q: padded last chunk
    [InlineData(8, 21)]
    [InlineData(5, 17)]   // Q not a power of two
    [InlineData(16, 7)]   // a single chunk shorter than Q
    [InlineData(1, 6)]    // Q = 1: one position per chunk, only state passing
    public void ChunkedEqualsRecurrenceInFp64(int chunk, int t)
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = ScanInputs(2, t, 6, 8, ScalarType.Float64);
        var (yRef, hRef) = Mamba1Kernels.Recurrent(x, dt, a, b, c, h0);
        var (y, h) = Mamba1Kernels.Chunked(x, dt, a, b, c, chunk, h0);
        Assert.Equal(ScalarType.Float64, y.dtype);
        Assert.True(MaxAbs(yRef) > 0.1);
        Assert.True(MaxAbs(y, yRef) <= 1e-10, $"y max diff {MaxAbs(y, yRef)}");
        Assert.True(MaxAbs(h, hRef) <= 1e-10, $"state max diff {MaxAbs(h, hRef)}");
    }

    [Fact]
    public void InferenceScanAndStepEqualTheAutogradRecurrence()
    {
        // Without autograd the readouts y = h·C take the transposed (row-vector) product; same values.
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = ScanInputs(2, 13, 6, 8, ScalarType.Float64);
        var (yRef, hRef) = Mamba1Kernels.Recurrent(x, dt, a, b, c, h0);
        using var _ = no_grad();
        var (y, h) = Mamba1Kernels.Chunked(x, dt, a, b, c, 4, h0);
        Assert.True(MaxAbs(y, yRef) <= 1e-10, $"y max diff {MaxAbs(y, yRef)}");
        Assert.True(MaxAbs(h, hRef) <= 1e-10, $"state max diff {MaxAbs(h, hRef)}");
        var state = h0.clone();
        var steps = Enumerable.Range(0, 13).Select(t => Mamba1Kernels.Step(x.select(1, t), dt.select(1, t), a, b.select(1, t), c.select(1, t), state)).ToList();
        Assert.True(MaxAbs(stack(steps, 1), yRef) <= 1e-10);
        Assert.True(MaxAbs(state, hRef) <= 1e-10);
    }

    [Fact]
    public void ChunkedEqualsRecurrenceInFp32()
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = ScanInputs(2, 45, 16, 16, ScalarType.Float32);
        var (yRef, hRef) = Mamba1Kernels.Recurrent(x.to_type(ScalarType.Float64), dt.to_type(ScalarType.Float64), a.to_type(ScalarType.Float64),
            b.to_type(ScalarType.Float64), c.to_type(ScalarType.Float64), h0.to_type(ScalarType.Float64));
        var (y, h) = Mamba1Kernels.Chunked(x, dt, a, b, c, 16, h0);
        Assert.Equal(ScalarType.Float32, y.dtype);
        Assert.Equal(ScalarType.Float32, h.dtype);
        Assert.True(MaxAbs(y, yRef) <= 1e-4, $"y max diff {MaxAbs(y, yRef)}");
        Assert.True(MaxAbs(h, hRef) <= 1e-4, $"state max diff {MaxAbs(h, hRef)}");
    }

    [Fact]
    public void ExtremeDecaysStayFiniteAndExact()
    {
        // Δ·|A| up to ≈ 1e3 per step: an exp(−cumsum) factorisation would overflow; the scan must not.
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = ScanInputs(1, 40, 4, 8, ScalarType.Float32, seed: 3);
        var bigDt = dt.mul(40);
        var (yRef, hRef) = Mamba1Kernels.Recurrent(x.to_type(ScalarType.Float64), bigDt.to_type(ScalarType.Float64), a.to_type(ScalarType.Float64),
            b.to_type(ScalarType.Float64), c.to_type(ScalarType.Float64), h0.to_type(ScalarType.Float64));
        var (y, h) = Mamba1Kernels.Chunked(x, bigDt, a, b, c, 16, h0);
        Assert.True(y.isfinite().all().item<bool>());
        Assert.True(MaxAbs(y, yRef) <= 1e-3 * Math.Max(1, MaxAbs(yRef)), $"y max diff {MaxAbs(y, yRef)}");
        Assert.True(MaxAbs(h, hRef) <= 1e-3 * Math.Max(1, MaxAbs(hRef)), $"state max diff {MaxAbs(h, hRef)}");
    }

    [Fact]
    public void GradientsOfChunkedEqualGradientsOfRecurrence()
    {
        using var scope = NewDisposeScope();
        var inputs = ScanInputs(2, 11, 5, 6, ScalarType.Float64);
        Tensor[] Grads(bool chunked)
        {
            var leaves = new[] { inputs.X, inputs.Dt, inputs.A, inputs.B, inputs.C, inputs.H0 }
                .Select(t => t.detach().clone().requires_grad_(true)).ToArray();
            var (y, h) = chunked
                ? Mamba1Kernels.Chunked(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], 4, leaves[5])
                : Mamba1Kernels.Recurrent(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5]);
            y.pow(2).sum().add(h.sum()).backward();
            return leaves.Select(l => l.grad!).ToArray();
        }
        var gRef = Grads(chunked: false);
        var g = Grads(chunked: true);
        for (int i = 0; i < g.Length; i++)
        {
            Assert.True(MaxAbs(gRef[i]) > 0, $"input {i}: zero gradient");
            Assert.True(MaxAbs(g[i], gRef[i]) <= 1e-9 * Math.Max(1, MaxAbs(gRef[i])), $"input {i}: grad diff {MaxAbs(g[i], gRef[i])}");
        }
    }

    [Fact]
    public void StepEqualsOneTokenOfTheRecurrenceAndUpdatesTheStateInPlace()
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = ScanInputs(2, 3, 6, 8, ScalarType.Float64);
        var (yRef, hRef) = Mamba1Kernels.Recurrent(x, dt, a, b, c, h0);
        var state = h0.clone();
        var ys = new List<Tensor>();
        for (int i = 0; i < 3; i++) ys.Add(Mamba1Kernels.Step(x.select(1, i), dt.select(1, i), a, b.select(1, i), c.select(1, i), state));
        Assert.True(MaxAbs(stack(ys, 1), yRef) <= 1e-12);
        Assert.True(MaxAbs(state, hRef) <= 1e-12);
    }

    [Fact]
    public void ZeroDtTokensNeitherDecayNorWriteTheState()
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = ScanInputs(1, 9, 4, 6, ScalarType.Float64);
        var masked = dt.clone();
        masked.narrow(1, 0, 3).zero_();                   // three "left padding" tokens
        var (_, hAll) = Mamba1Kernels.Chunked(x, masked, a, b, c, 4, h0);
        var (_, hReal) = Mamba1Kernels.Chunked(x.narrow(1, 3, 6), dt.narrow(1, 3, 6), a, b.narrow(1, 3, 6), c.narrow(1, 3, 6), 4, h0);
        Assert.True(MaxAbs(hAll, hReal) <= 1e-12);
    }
}
