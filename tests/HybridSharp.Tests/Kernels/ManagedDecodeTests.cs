using HybridSharp.Caching;
using HybridSharp.Config;
using HybridSharp.Inference;
using HybridSharp.Kernels;
using HybridSharp.Models;
using HybridSharp.Tests.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Kernels;

/// <summary>
/// The managed decode path gives the tensor path's answers: per preset with perturbed weights, prefill by tensors then
/// managed steps equal the full forward; rows of different lengths in one step equal each row alone; packed bf16 / int8
/// weights decode as the full forward of the same rounded weights.
/// </summary>
[Collection("Torch")]
public sealed class ManagedDecodeTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    /// <summary>A model of <paramref name="cfg"/> whose weights are perturbed away from their init (norms and residuals off 1).</summary>
    internal static CausalLM Perturbed(ModelConfig cfg, long seed = 11)
    {
        var model = new CausalLM(cfg, seed);
        model.eval();
        using var _ = no_grad();
        using var gen = new Generator((ulong)seed + 1);
        foreach (var (name, p) in model.named_parameters())
            p.add_(randn(p.shape, generator: gen).mul_(name.EndsWith("norm.weight") || name.EndsWith("_residual") ? 0.1 : 0.02));
        return model;
    }

    private static Tensor Ids(int t, long vocab, int seed)
    {
        var rng = new Random(seed);
        return tensor(Enumerable.Range(0, t).Select(_ => (long)rng.Next((int)vocab)).ToArray()).unsqueeze(0);
    }

    /// <summary>Prefills <paramref name="prefill"/> tokens by tensors, then decodes the rest one token at a time; logits [T − prefill, V].</summary>
    private static Tensor Decode(CausalLM model, Tensor ids, int prefill, bool managed)
    {
        int t = (int)ids.size(1);
        using var cache = model.NewCache(1, t);
        using (model.Forward(ids.narrow(1, 0, prefill), cache)) { }
        var plan = managed ? DecodePlan.TryCreate(model, out var missing) ?? throw new InvalidOperationException(missing) : null;
        var steps = new List<Tensor>();
        for (int i = prefill; i < t; i++)
        {
            long token = ids[0, i].item<long>();
            if (plan is not null)
            {
                steps.Add(plan.Step([token], [cache.Length], cache));
                cache.Advance(1);
            }
            else
            {
                steps.Add(model.Forward(ids.narrow(1, i, 1), cache).select(1, 0));
            }
        }
        var all = cat(steps, 0);
        foreach (var s in steps) s.Dispose();
        return all;
    }

    private static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    /// <summary>Largest logit difference between prefill + managed steps and the full forward, over the decoded positions.</summary>
    private static double ManagedAgainstFullForward(CausalLM model, Tensor ids, int prefill)
    {
        using var _ = inference_mode();
        using var full = model.Forward(ids)[0].narrow(0, prefill, (int)ids.size(1) - prefill);
        using var managed = Decode(model, ids, prefill, managed: true);
        return MaxDiff(managed, full);
    }

    [Theory]
    [InlineData("transformer-tiny")]
    [InlineData("transxssm-tiny")]
    [InlineData("transxssm-tiny-2a")]
    [InlineData("mamba2")]
    [InlineData("transformer-d256")]
    [InlineData("doge-tiny")]
    [InlineData("doge-moe-tiny")]
    [InlineData("cheems-tiny")]
    [InlineData("wonderful-matrices-tiny")]
    [InlineData("otce-tiny")]
    [InlineData("otce-s")]
    public void ManagedStepsEqualTheFullForward(string preset)
    {
        using var model = Perturbed(Presets.Get(preset));
        using var ids = Ids(40, model.Config.VocabSize, 3);
        double diff = ManagedAgainstFullForward(model, ids, 9);
        output.WriteLine($"{preset}: managed decode vs full forward {diff:E2}");
        Assert.True(diff <= Tolerance, $"managed decode differs by {diff:E2}");
    }

    [Theory]
    [InlineData("upstream", false, 2048)]
    [InlineData("upstream", true, 12)]
    [InlineData("legacy", false, 12)]
    public void DmaDecodesAsTheFullForwardWithAndBeyondItsWindow(string layout, bool qkNorm, int window)
    {
        // Repeated tokens give tied mask values: the kept keys past the window must follow the tensor path's tie rule.
        var cfg = Presets.Get("doge-tiny");
        cfg.Dma!.Layout = layout;
        cfg.Dma.QkNorm = qkNorm;
        cfg.Dma.KeepWindowSize = window;
        cfg.NumKeyValueHeads = 1;
        cfg.NumAttentionHeads = 2;
        using var model = Perturbed(cfg);
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.EndsWith(".A")) p.copy_(randn(p.shape, generator: new Generator(9)).mul_(0.7));
        using var _ = inference_mode();
        var rng = new Random(2);
        long[] alphabet = [40, 41, 42, 97, 98];
        using var ids = tensor(Enumerable.Range(0, 60).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray()).unsqueeze(0);
        using var full = model.Forward(ids)[0].narrow(0, 7, 53);
        using var managed = Decode(model, ids, 7, managed: true);
        double diff = MaxDiff(managed, full);
        output.WriteLine($"DMA {layout} qk_norm {qkNorm} window {window}: {diff:E2}");
        Assert.True(diff <= Tolerance, $"managed DMA decode differs by {diff:E2}");
    }

    [Fact]
    public void AttentionBiasesGqaAndReluFfnDecodeAsTheFullForward()
    {
        var cfg = TinyModels.Transformer(gqa: true, tie: false, residualVectors: true, layers: 2);
        cfg.AttentionBias = true;
        cfg.MlpBias = true;
        cfg.HiddenAct = "relu";
        using var model = Perturbed(cfg);
        using var ids = Ids(30, cfg.VocabSize, 4);
        double diff = ManagedAgainstFullForward(model, ids, 5);
        Assert.True(diff <= Tolerance, $"differs by {diff:E2}");
    }

    [Fact]
    public void DynamicNtkAndLognScalingFollowTheTensorDecodePath()
    {
        // Past max_position_embeddings dynamic NTK changes θ per step, and logn scales Q from position 4032 on: the
        // managed path must make the same choices as the tensor path's decode steps.
        var cfg = TinyModels.Transformer(layers: 2);
        cfg.MaxPositionEmbeddings = 16;
        cfg.RopeScaling = new RopeScaling { RopeType = "dynamic", Factor = 2 };
        using (var model = Perturbed(cfg))
        using (inference_mode())
        using (var ids = Ids(48, cfg.VocabSize, 5))
        using (var byTensors = Decode(model, ids, 6, managed: false))
        using (var managed = Decode(model, ids, 6, managed: true))
            Assert.True(MaxDiff(managed, byTensors) <= Tolerance, $"dynamic NTK: differs by {MaxDiff(managed, byTensors):E2}");

        var logn = TinyModels.Transformer(layers: 1);
        logn.MaxPositionEmbeddings = 8192;
        logn.LognScaling = true;
        using (var model = Perturbed(logn))
        using (inference_mode())
        using (var ids = Ids(4040, logn.VocabSize, 6))
        using (var byTensors = Decode(model, ids, 4028, managed: false))
        using (var managed = Decode(model, ids, 4028, managed: true))
        using (var full = model.Forward(ids)[0].narrow(0, 4028, 12))
        {
            Assert.True(MaxDiff(managed, byTensors) <= Tolerance, $"logn: differs by {MaxDiff(managed, byTensors):E2}");
            Assert.True(MaxDiff(managed, full) <= Tolerance, $"logn vs full: differs by {MaxDiff(managed, full):E2}");
        }
    }

    [Fact]
    public void RowsOfDifferentLengthsInOneStepEqualEachRowAlone()
    {
        using var model = Perturbed(Presets.Get("transxssm-tiny-2a"));
        using var _ = inference_mode();
        var plan = DecodePlan.TryCreate(model, out var missing) ?? throw new InvalidOperationException(missing);
        int[] prompts = [3, 11, 7];
        const int steps = 6;
        var seqs = prompts.Select((p, i) => Ids(p + steps, model.Config.VocabSize, 20 + i)).ToArray();
        using var slots = new SlotCache(model, maxBatch: 3, capacity: 32);
        foreach (var (ids, p) in seqs.Zip(prompts))
        {
            var row = slots.OpenRow();
            using (model.Forward(ids.narrow(1, 0, p), row)) { }
            slots.CommitRow(row);
        }
        for (int s = 0; s < steps; s++)
        {
            var tokens = seqs.Select((ids, r) => ids[0, prompts[r] + s].item<long>()).ToArray();
            var positions = Enumerable.Range(0, 3).Select(r => slots.LengthOf(r)).ToArray();
            Tensor logits;
            using (var view = slots.StepView()) logits = plan.Step(tokens, positions, view);
            slots.Advance();
            for (int r = 0; r < 3; r++)
            {
                using var full = model.Forward(seqs[r].narrow(1, 0, prompts[r] + s + 1))[0, -1];
                double diff = MaxDiff(logits[r], full);
                Assert.True(diff <= Tolerance, $"row {r}, step {s}: differs by {diff:E2}");
            }
            logits.Dispose();
        }
        foreach (var ids in seqs) ids.Dispose();
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("int8")]
    public void PackedWeightsDecodeAsTheFullForwardOfTheRoundedModel(string format)
    {
        using var model = Perturbed(Presets.Get("transxssm-tiny"));
        using var _ = inference_mode();
        using var ids = Ids(32, model.Config.VocabSize, 7);
        using var before = model.Forward(ids)[0];
        model.PackWeights(WeightFormats.Parse(format));
        Assert.Equal(WeightFormats.Parse(format), model.WeightFormat);
        using var after = model.Forward(ids)[0];
        using var managed = Decode(model, ids, 4, managed: true);
        double rounding = MaxDiff(after, before), diff = MaxDiff(managed, after.narrow(0, 4, 28));
        output.WriteLine($"{format}: rounding moved logits by {rounding:E2}; managed vs full {diff:E2}");
        Assert.True(rounding > 0, "packing must round the fp32 weights the full forward uses");
        Assert.True(diff <= Tolerance, $"managed decode of packed weights differs by {diff:E2}");
    }

    [Fact]
    public void PointersReachTensorsBeyondTwoGiB()
    {
        // An LM head of a large vocabulary passes 2 GiB; its address must still be found (the pages are never touched).
        using var big = empty([(long)int.MaxValue / 4 + 64], ScalarType.Float32);
        using var head = big.narrow(0, 0, 16);
        Assert.Equal(TensorMemory.Address(head), TensorMemory.Address(big));
        using var tail = big.narrow(0, 64, (long)int.MaxValue / 4);
        Assert.Equal(TensorMemory.Address(big) + 256, TensorMemory.Address(tail));
    }

    [Fact]
    public void Int8GroupsRoundTripWithinHalfAStep()
    {
        var rng = new Random(1);
        const int rows = 3, cols = 70;   // a partial last group
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(4) + 1)).ToArray();
        w[5] = 0;
        using var m = Int8Matrix.Quantize(w, rows, cols);
        var back = new float[rows * cols];
        m.ReadAll(back);
        for (int r = 0; r < rows; r++)
            for (int g = 0; g * 32 < cols; g++)
            {
                var idx = Enumerable.Range(r * cols + g * 32, Math.Min(32, cols - g * 32)).ToArray();
                float step = idx.Max(i => Math.Abs(w[i])) / 127f;
                Assert.All(idx, i => Assert.True(Math.Abs(back[i] - w[i]) <= step / 2 * 1.0001f, $"[{i}] {w[i]} → {back[i]}"));
            }
        Assert.Equal(rows * cols + 4L * rows * 3, m.Bytes);
        Assert.Equal(0.0078125f, BitConverter.UInt32BitsToSingle((uint)BFloat16Matrix.Round(0.0078125f) << 16));
        Assert.Equal((ushort)0x3F80, BFloat16Matrix.Round(1.00390625f));   // a tie rounds to even
        Assert.Equal((ushort)0x3F82, BFloat16Matrix.Round(1.01171875f));   // and so does this one (up)
    }

    [Fact]
    public void EveryMixerInOneModelAndATensorFfnDecodeAsTheFullForward()
    {
        // Attention, SSD (conv, gate), DMA and Mamba-1 layers; a GELU FFN runs its tensor forward inside the managed step.
        var cfg = HybridSharp.Tests.Serve.SlotCacheTests.MixedConfig();
        cfg.HiddenAct = "gelu";
        using var model = Perturbed(cfg);
        using var ids = Ids(30, cfg.VocabSize, 8);
        double diff = ManagedAgainstFullForward(model, ids, 5);
        Assert.True(diff <= Tolerance, $"differs by {diff:E2}");
    }

    [Fact]
    public void ModelsWithoutManagedStepsSayWhatIsMissingAndDecodeByTensors()
    {
        var otce = Presets.Get("otce-tiny");
        otce.HiddenAct = "gelu";
        using (var model = new CausalLM(otce, seed: 1))
        {
            Assert.Null(DecodePlan.TryCreate(model, out var missing));
            Assert.Contains("Expresser tail's gelu activation", missing);
            using var batch = new DecodeBatch<DecodeSequence>(model, 1, 8);
            Assert.False(batch.UsesManagedKernels);
        }
        using (var model = new CausalLM(Presets.Get("transformer-tiny"), seed: 1))
        {
            model.to(ScalarType.BFloat16);
            Assert.Null(DecodePlan.TryCreate(model, out var missing));
            Assert.Contains("BFloat16", missing);
        }
    }
}
