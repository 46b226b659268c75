using HybridSharp.Config;
using HybridSharp.Models;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Dma;

/// <summary>
/// The same text gets the same answer however DMA computes it: with a keep window shorter than a text full of repeated
/// tokens (whose biases tie up to rounding), the full forward, a chunked prefill and one-token decoding agree.
/// </summary>
[Collection("Torch")]
public sealed class DmaSameAnswerTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("doge-tiny")]
    [InlineData("doge-moe-tiny")]
    [InlineData("cheems-tiny")]
    [InlineData("wonderful-matrices-tiny")]
    public void FullForwardChunkedPrefillAndDecodeAgree(string preset)
    {
        var cfg = Presets.Get(preset);
        cfg.Dma!.KeepWindowSize = 48;
        using var model = new CausalLM(cfg, seed: 21);
        model.eval();
        using var _ = no_grad();
        var gen = new Generator(5);
        foreach (var (name, p) in model.named_parameters())
        {
            // Perturbed weights: a non-zero A (at A = 0 every bias is 1 and only the tie rule decides), norms off 1.
            if (name.EndsWith(".A")) p.copy_(randn(p.shape, generator: gen).mul_(0.7));
            else p.add_(randn(p.shape, generator: gen).mul_(name.EndsWith("norm.weight") || name.EndsWith("_residual") ? 0.1 : 0.02));
        }
        gen.Dispose();
        const int t = 400;
        var rng = new Random(2);
        long[] alphabet = [40, 41, 42, 97, 98];
        using var ids = tensor(Enumerable.Range(0, t).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray()).unsqueeze(0);

        using var full = model.Forward(ids);
        using var chunkedCache = model.NewCache(1, t);
        var chunks = new List<Tensor>();
        for (int start = 0; start < t; start += 37) chunks.Add(model.Forward(ids.narrow(1, start, Math.Min(37, t - start)), chunkedCache));
        using var chunked = cat(chunks, 1);
        using var decodeCache = model.NewCache(1, t);
        var steps = new List<Tensor>();
        for (int i = 0; i < t; i++) steps.Add(model.Forward(ids.narrow(1, i, 1), decodeCache));
        using var decoded = cat(steps, 1);
        foreach (var c in chunks.Concat(steps)) c.Dispose();

        double chunkDiff = (chunked - full).abs().max().item<float>();
        double decodeDiff = (decoded - full).abs().max().item<float>();
        output.WriteLine($"{preset}: chunked {chunkDiff:E2}, decode {decodeDiff:E2}");
        Assert.True(chunkDiff <= 1e-4, $"chunked prefill differs by {chunkDiff:E2}");
        Assert.True(decodeDiff <= 1e-4, $"decode differs by {decodeDiff:E2}");
    }
}
