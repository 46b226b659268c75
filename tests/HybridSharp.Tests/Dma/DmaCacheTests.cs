using HybridSharp.Config;
using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static HybridSharp.Tests.Dma.DmaTestUtil;
using static TorchSharp.torch;
using HybridSharp.Caching;

namespace HybridSharp.Tests.Dma;

/// <summary> for DMA (also past the window), causality, left padding, gradients.</summary>
[Collection("Torch")]
public sealed class DmaCacheTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(DmaConfig.Upstream, false, 3, ScalarType.Float64)]
    [InlineData(DmaConfig.Upstream, true, 3, ScalarType.Float64)]
    [InlineData(DmaConfig.Legacy, false, 3, ScalarType.Float64)]
    [InlineData(DmaConfig.Upstream, true, 64, ScalarType.Float64)]
    [InlineData(DmaConfig.Upstream, true, 3, ScalarType.Float32)]
    [InlineData(DmaConfig.Legacy, false, 3, ScalarType.Float32)]
    [InlineData(DmaConfig.Upstream, false, 64, ScalarType.Float32)]
    public void PrefillChunkedPrefillAndDecodeEqualFullForward(string layout, bool qkNorm, int window, ScalarType dtype) =>
        CheckCachedEqualsFull(layout, qkNorm, window, dtype, zeroA: false);

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void AllTiedBiasAtZeroAStaysConsistentPastTheWindow(ScalarType dtype) =>
        // A = 0 makes every β exactly 1: the top-k choice rests on the tie rule alone (latest keys win).
        CheckCachedEqualsFull(DmaConfig.Upstream, false, 3, dtype, zeroA: true);

    private void CheckCachedEqualsFull(string layout, bool qkNorm, int window, ScalarType dtype, bool zeroA)
    {
        using var _ = no_grad();
        var cfg = TinyConfig(heads: 4, kvHeads: 2);
        using var dma = Build(cfg, new DmaConfig { KeepWindowSize = window, Layout = layout, QkNorm = qkNorm }, dtype, zeroA: zeroA);
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        torch.manual_seed(21);
        using var x = randn(2, 10, cfg.HiddenSize, dtype: dtype);
        using var full = Run(dma, rope, x);

        using var cache = new InferenceCache(2, 16, 1);
        var parts = new List<Tensor>();
        foreach (var (start, len) in new[] { (0, 4), (4, 3), (7, 1), (8, 1), (9, 1) })
            parts.Add(Run(dma, rope, x.narrow(1, start, len), cache));
        using var stitched = cat(parts, 1);
        double diff = MaxDiff(full, stitched);
        output.WriteLine($"{layout}, qk_norm {qkNorm}, window {window}, A=0 {zeroA}, {dtype}: prefill 4 + chunk 3 + 3 decode vs full, max |Δ| = {diff:E2}");
        Assert.True(diff <= Tolerance(dtype), $"max diff {diff}");
        Assert.IsType<DmaKvCache>(cache.Layers[0]);
        foreach (var p in parts) p.Dispose();
    }

    [Theory]
    [InlineData(3)]
    [InlineData(64)]
    public void ChangingALaterTokenChangesNoEarlierOutput(int window)
    {
        using var _ = no_grad();
        var cfg = TinyConfig();
        using var dma = Build(cfg, new DmaConfig { KeepWindowSize = window }, ScalarType.Float32);
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        torch.manual_seed(5);
        using var x = randn(1, 10, cfg.HiddenSize);
        using var x2 = x.clone();
        x2[0, 6] = randn(cfg.HiddenSize);
        using var a = Run(dma, rope, x);
        using var b = Run(dma, rope, x2);
        Assert.Equal(0.0, MaxDiff(a.narrow(1, 0, 6), b.narrow(1, 0, 6)));
        Assert.True(MaxDiff(a.narrow(1, 6, 4), b.narrow(1, 6, 4)) > 1e-4);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(64)]
    public void LeftPaddedBatchMatchesSingleSequences(int window)
    {
        using var _ = no_grad();
        var cfg = TinyConfig();
        using var dma = Build(cfg, new DmaConfig { KeepWindowSize = window, QkNorm = true }, ScalarType.Float64);
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        torch.manual_seed(8);
        using var longX = randn(1, 7, cfg.HiddenSize, dtype: ScalarType.Float64);  // 6 prompt tokens + 1 decoded
        using var shortX = randn(1, 4, cfg.HiddenSize, dtype: ScalarType.Float64); // 3 prompt tokens + 1 decoded
        using var padX = cat([randn(1, 3, cfg.HiddenSize, dtype: ScalarType.Float64).mul_(7), shortX.narrow(1, 0, 3)], 1);
        using var batch = cat([longX.narrow(1, 0, 6), padX], 0);
        using var valid = tensor(new long[] { 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1 }).reshape(2, 6);

        using var refLong = Run(dma, rope, longX);
        using var refShort = Run(dma, rope, shortX);

        // without a cache
        using var noCache = Run(dma, rope, batch, null, valid);
        Assert.True(MaxDiff(noCache[0], refLong[0].narrow(0, 0, 6)) <= 1e-12);
        Assert.True(MaxDiff(noCache[1].narrow(0, 3, 3), refShort[0].narrow(0, 0, 3)) <= 1e-12);

        // prefill on a cache, then one decode step on both rows
        using var cache = new InferenceCache(2, 8, 1);
        using var prefill = Run(dma, rope, batch, cache, valid);
        Assert.True(MaxDiff(prefill[1].narrow(0, 3, 3), refShort[0].narrow(0, 0, 3)) <= 1e-12);
        using var next = cat([longX.narrow(1, 6, 1), shortX.narrow(1, 3, 1)], 0);
        using var step = Run(dma, rope, next, cache, null);
        double d0 = MaxDiff(step[0, 0], refLong[0, 6]), d1 = MaxDiff(step[1, 0], refShort[0, 3]);
        output.WriteLine($"left padding, window {window}: decode row diffs {d0:E2}, {d1:E2}");
        Assert.True(d0 <= 1e-12 && d1 <= 1e-12, $"diffs {d0}, {d1}");
    }

    [Theory]
    [InlineData(64)] // fused SDPA path with the float mask vs the explicit path
    [InlineData(4)]  // top-k active: both take the explicit path, checks gradients flow through the kept entries
    public void GradientsReachAAndDtProjOnBothPaths(int window)
    {
        var cfg = TinyConfig();
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        torch.manual_seed(13);
        using var x = randn(2, 9, cfg.HiddenSize, dtype: ScalarType.Float64);
        using var w = randn(2, 9, cfg.HiddenSize, dtype: ScalarType.Float64);
        Dictionary<string, Tensor> Grads(bool eager)
        {
            using var dma = Build(cfg, new DmaConfig { KeepWindowSize = window }, ScalarType.Float64);
            dma.train();
            dma.ForceEager = eager;
            using (var y = Run(dma, rope, x))
            using (var loss = y.mul(w).sum())
                loss.backward();
            return dma.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        }
        var sdpa = Grads(false);
        var eager = Grads(true);
        Assert.True(sdpa["A"].abs().max().item<double>() > 1e-6, "A gets no gradient");
        Assert.True(sdpa["dt_proj.weight"].abs().max().item<double>() > 1e-6, "dt_proj gets no gradient");
        foreach (var (name, g) in sdpa)
        {
            double diff = MaxDiff(g, eager[name]);
            Assert.True(diff <= 1e-10, $"{name}: gradient differs by {diff}");
        }
        foreach (var g in sdpa.Values.Concat(eager.Values)) g.Dispose();
    }
}
