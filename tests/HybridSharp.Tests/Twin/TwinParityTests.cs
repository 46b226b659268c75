using System.Text.Json;
using HybridSharp.Checkpoints;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Tests.Reference;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Twin;

/// <summary>
/// The PyTorch twin computes the same function as the C# library: for every preset (perturbed weights, so no mixer sits
/// at a trivial initial value), the per-token log-probabilities of the twin match HybridSharp's full forward and its
/// prefill + one-token decoding within 1e-4.
/// </summary>
[Collection("Torch")]
public sealed class TwinParityTests(ITestOutputHelper output)
{
    /// <summary>Every preset except the two largest (their mixers and FFNs are the ones of otce-s and doge).</summary>
    public static readonly string[] Checked = [.. Presets.Names.Where(n => n is not "otce" and not "doge-60m")];

    [Fact]
    public void TwinLogProbsMatchEveryPreset()
    {
        using var tmp = new TempDir();
        const int t = 72;
        var rng = new Random(3);
        long[] alphabet = [40, 41, 42, 97, 98, 99, 256, 10];   // few distinct tokens: repeats make DMA's biases tie
        var ids = Enumerable.Range(0, t).Select(i => i == 0 ? 256L : alphabet[rng.Next(alphabet.Length)]).ToArray();
        var expected = new Dictionary<string, (float[] Full, float[] Decoded)>();
        foreach (var preset in Checked)
        {
            var cfg = Presets.Get(preset);
            if (cfg.Dma is not null) cfg.Dma.KeepWindowSize = 24;   // rows longer than the window: the keep rule acts
            using var model = new CausalLM(cfg, seed: 17);
            Perturb(model);
            string dir = tmp[preset];
            ModelDirectory.Save(model, new ByteTokenizer(), dir);
            expected[preset] = LogProbs(model, ids);
        }
        var lines = TorchTwin.Run(["score", .. Checked.Select(p => tmp[p]), "--ids", string.Join(",", ids), "--json"])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Checked.Length, lines.Length);
        var failures = new List<string>();
        for (int i = 0; i < Checked.Length; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            var twin = doc.RootElement.GetProperty("logprobs").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var (full, decoded) = expected[Checked[i]];
            double dFull = twin.Zip(full).Max(p => Math.Abs(p.First - p.Second));
            double dDecoded = twin.Zip(decoded).Max(p => Math.Abs(p.First - p.Second));
            output.WriteLine($"{Checked[i],-26} full forward {dFull:E2}   prefill+decode {dDecoded:E2}");
            if (twin.Length != t - 1 || dFull > 1e-4 || dDecoded > 1e-4) failures.Add($"{Checked[i]}: {dFull:E2} / {dDecoded:E2}");
        }
        Assert.True(failures.Count == 0, "twin ≠ HybridSharp: " + string.Join("; ", failures));
    }

    /// <summary>Non-trivial weights: a non-zero DMA A, product keys off zero, norms and residual vectors off 1.</summary>
    internal static void Perturb(CausalLM model, int seed = 5)
    {
        using var _ = no_grad();
        using var gen = new Generator((ulong)seed);
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith(".A")) p.copy_(randn(p.shape, generator: gen).mul_(0.7));
            else if (name.EndsWith("mlp.keys")) p.copy_(randn(p.shape, generator: gen).mul_(0.5));
            else p.add_(randn(p.shape, generator: gen).mul_(name.EndsWith("norm.weight") || name.EndsWith("_residual") ? 0.1 : 0.02));
        }
    }

    /// <summary>Log-probabilities of ids[1..] from the full forward and from a 30-token prefill followed by one-token decoding.</summary>
    private static (float[] Full, float[] Decoded) LogProbs(CausalLM model, long[] ids)
    {
        model.eval();
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        int t = ids.Length;
        var x = tensor(ids).unsqueeze(0);
        var targets = tensor(ids[1..]).unsqueeze(1);
        float[] Pick(Tensor logits) => logits[0].narrow(0, 0, t - 1).log_softmax(-1).gather(1, targets).view(-1).data<float>().ToArray();
        var full = Pick(model.Forward(x));
        using var cache = model.NewCache(1, t);
        var parts = new List<Tensor> { model.Forward(x.narrow(1, 0, 30), cache) };
        for (int i = 30; i < t; i++) parts.Add(model.Forward(x.narrow(1, i, 1), cache));
        return (full, Pick(cat(parts, 1)));
    }
}
