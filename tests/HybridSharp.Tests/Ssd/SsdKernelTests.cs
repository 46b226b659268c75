using HybridSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static HybridSharp.Tests.Ssd.SsdTestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Ssd;

/// <summary>Chunked SSD vs the recurrence, segsum stability, head→group mapping.</summary>
[Collection("Torch")]
public sealed class SsdKernelTests(ITestOutputHelper output)
{
    private const long Batch = 2, Len = 13, Heads = 4, Groups = 2, P = 3, N = 5;
    private const int Q = 4;

    private static (Tensor X, Tensor Dt, Tensor A, Tensor B, Tensor C, Tensor H0) RandomInputs(ScalarType dtype, long seed = 11)
    {
        manual_seed(seed);
        var x = randn([Batch, Len, Heads, P], dtype);
        var dt = nn.functional.softplus(randn([Batch, Len, Heads], dtype));
        var a = rand([Heads], dtype).mul(1.5).add(0.5).neg();
        var b = randn([Batch, Len, Groups, N], dtype);
        var c = randn([Batch, Len, Groups, N], dtype);
        var h0 = randn([Batch, Heads, P, N], dtype);
        return (x, dt, a, b, c, h0);
    }

    [Theory]
    [InlineData(ScalarType.Float64, false, 1e-10)]
    [InlineData(ScalarType.Float64, true, 1e-10)]
    [InlineData(ScalarType.Float32, false, 1e-4)]
    [InlineData(ScalarType.Float32, true, 1e-4)]
    public void ChunkedMatchesRecurrence(ScalarType dtype, bool withInitialState, double tol)
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = RandomInputs(dtype);
        var init = withInitialState ? h0 : null;
        var (yc, sc) = SsdKernels.Chunked(x, dt, a, b, c, Q, init);
        var (yr, sr) = SsdKernels.Recurrent(x, dt, a, b, c, init);
        Assert.Equal(x.shape, yc.shape);
        Assert.Equal(dtype, yc.dtype);
        Assert.Equal(new long[] { Batch, Heads, P, N }, sc.shape);
        Assert.Equal(SsdKernels.ComputeType(dtype), sc.dtype);
        double ey = MaxAbs(yc, yr), es = MaxAbs(sc, sr);
        output.WriteLine($"{dtype} init={withInitialState}: |y| max {MaxAbs(yr):G3}, y err {ey:E2}, state err {es:E2}");
        Assert.True(ey <= tol, $"y error {ey}");
        Assert.True(es <= tol, $"state error {es}");
        if (withInitialState)
            Assert.True(MaxAbs(yc, SsdKernels.Chunked(x, dt, a, b, c, Q, null).Y) > 1e-3, "initial state had no effect");
    }

    [Fact]
    public void ChunkSizeDoesNotMatterAndSplitsCompose()
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = RandomInputs(ScalarType.Float64, 5);
        var (y1, s1) = SsdKernels.Chunked(x, dt, a, b, c, 64, h0);
        var (y3, s3) = SsdKernels.Chunked(x, dt, a, b, c, 3, h0);
        Assert.True(MaxAbs(y1, y3) <= 1e-10 && MaxAbs(s1, s3) <= 1e-10);

        // Processing [0, 6) then [6, 13) with the carried state equals one pass.
        var (ya, sa) = SsdKernels.Chunked(x.narrow(1, 0, 6), dt.narrow(1, 0, 6), a, b.narrow(1, 0, 6), c.narrow(1, 0, 6), Q, h0);
        var (yb, sb) = SsdKernels.Chunked(x.narrow(1, 6, 7), dt.narrow(1, 6, 7), a, b.narrow(1, 6, 7), c.narrow(1, 6, 7), Q, sa);
        Assert.True(MaxAbs(cat([ya, yb], 1), y1) <= 1e-10);
        Assert.True(MaxAbs(sb, s1) <= 1e-10);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]   // no autograd: the readout takes the transposed (row-vector) product
    public void StepMatchesRecurrenceAndUpdatesInPlace(bool inference)
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = RandomInputs(ScalarType.Float64, 3);
        var (yr, sr) = SsdKernels.Recurrent(x, dt, a, b, c, h0);
        var state = h0.clone();
        var ys = new List<Tensor>();
        using var mode = inference ? no_grad() : null;
        for (long t = 0; t < Len; t++)
            ys.Add(SsdKernels.Step(x.select(1, t), dt.select(1, t), a, b.select(1, t), c.select(1, t), state));
        Assert.True(MaxAbs(stack(ys, 1), yr) <= 1e-12);
        Assert.True(MaxAbs(state, sr) <= 1e-12);
    }

    [Fact]
    public void ZeroDtStepsDoNotTouchTheState()
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = RandomInputs(ScalarType.Float64, 4);
        var dtMasked = dt.clone();
        dtMasked.narrow(1, 0, 5).zero_();                   // "left padding": first 5 tokens of every row
        var (_, sFull) = SsdKernels.Chunked(x, dtMasked, a, b, c, Q, h0);
        var (_, sTail) = SsdKernels.Recurrent(x.narrow(1, 5, Len - 5), dt.narrow(1, 5, Len - 5), a, b.narrow(1, 5, Len - 5), c.narrow(1, 5, Len - 5), h0);
        Assert.True(MaxAbs(sFull, sTail) <= 1e-10);
    }

    [Fact]
    public void HeadsReadContiguousGroups()
    {
        using var scope = NewDisposeScope();
        var (x, dt, a, b, c, h0) = RandomInputs(ScalarType.Float64, 9);
        var (yc, sc) = SsdKernels.Chunked(x, dt, a, b, c, Q, h0);
        var (yLoop, sLoop) = PerHeadLoop(x, dt, a, b, c, h0, h => h / (Heads / Groups));
        var (yTiled, _) = PerHeadLoop(x, dt, a, b, c, h0, h => h % Groups);
        Assert.True(MaxAbs(yc, yLoop) <= 1e-10, $"contiguous mapping error {MaxAbs(yc, yLoop)}");
        Assert.True(MaxAbs(sc, sLoop) <= 1e-10);
        Assert.True(MaxAbs(yc, yTiled) > 1e-3, "tiled mapping should differ (test is not discriminative)");
    }

    /// <summary>Independent oracle: one head at a time, one token at a time, with an explicit group map.</summary>
    private static (Tensor Y, Tensor State) PerHeadLoop(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor h0, Func<long, long> group)
    {
        var ys = new Tensor[Heads];
        var states = new Tensor[Heads];
        for (long h = 0; h < Heads; h++)
        {
            long g = group(h);
            var s = h0.select(1, h).clone();                                // [b, p, n]
            var yh = new Tensor[Len];
            for (long t = 0; t < Len; t++)
            {
                var dth = dt.select(1, t).select(1, h).view(Batch, 1, 1);
                var xt = x.select(1, t).select(1, h);                       // [b, p]
                var bt = b.select(1, t).select(1, g);                       // [b, n]
                var ct = c.select(1, t).select(1, g);
                s = s.mul(dth.mul(a[h]).exp()).add(dth.mul(xt.unsqueeze(-1).mul(bt.unsqueeze(1))));
                yh[t] = s.matmul(ct.unsqueeze(-1)).squeeze(-1);             // [b, p]
            }
            ys[h] = stack(yh, 1);                                           // [b, t, p]
            states[h] = s;
        }
        return (stack(ys, 2), stack(states, 1));
    }

    [Fact]
    public void SegsumIsStableForLongChunksAndLargeDecays()
    {
        using var scope = NewDisposeScope();
        const int q = 256;
        manual_seed(1);
        var a64 = rand([2, q], ScalarType.Float64).mul(-50.0);             // |a| up to 50, sums down to ≈ −6400
        var a32 = a64.to_type(ScalarType.Float32);
        var seg32 = SsdKernels.Segsum(a32);
        var seg64 = SsdKernels.Segsum(a64);
        Assert.Equal(new long[] { 2, q, q }, seg32.shape);
        Assert.False(seg32.isnan().any().item<bool>());
        var l32 = seg32.exp();
        Assert.True(AllFinite(l32));

        // Naive fp64 sums Σ_{r=s+1..l} a_r.
        var av = a64.data<double>().ToArray();
        var reference = new double[2 * q * q];
        for (int row = 0; row < 2; row++)
            for (int s = 0; s < q; s++)
            {
                double acc = 0;
                for (int l = 0; l < q; l++)
                {
                    if (l < s) { reference[(row * q + l) * q + s] = double.NegativeInfinity; continue; }
                    if (l > s) acc += av[row * q + l];
                    reference[(row * q + l) * q + s] = acc;
                }
            }
        var refT = tensor(reference, ScalarType.Float64).view(2, q, q);
        var upper = ones(q, q, dtype: ScalarType.Bool).triu(1);
        Assert.True(seg32.masked_select(upper).eq(double.NegativeInfinity).all().item<bool>());
        Assert.True(seg64.masked_select(upper).eq(double.NegativeInfinity).all().item<bool>());

        var lower = upper.logical_not();
        var r = refT.masked_select(lower);
        var rel32 = seg32.to_type(ScalarType.Float64).masked_select(lower).sub(r).abs().div(r.abs().clamp_min(1.0)).max().item<double>();
        var rel64 = seg64.masked_select(lower).sub(r).abs().div(r.abs().clamp_min(1.0)).max().item<double>();
        var expErr = MaxAbs(l32, refT.exp());
        output.WriteLine($"segsum rel err fp32 {rel32:E2}, fp64 {rel64:E2}; exp abs err fp32 {expErr:E2}");
        Assert.True(rel32 <= 1e-5, $"fp32 segsum rel error {rel32}");
        Assert.True(rel64 <= 1e-12, $"fp64 segsum rel error {rel64}");
        Assert.True(expErr <= 1e-6, $"fp32 exp(segsum) error {expErr}");

        // The chunked kernel stays finite with such decays.
        var x = randn([1, q, 1, 2]);
        var (y, s1) = SsdKernels.Chunked(x, a32.narrow(0, 0, 1).neg().unsqueeze(-1), ones(1).neg(), randn([1, q, 1, 3]), randn([1, q, 1, 3]), q, null);
        Assert.True(AllFinite(y) && AllFinite(s1));
    }
}
