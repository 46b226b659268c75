using HybridSharp.Config;
using HybridSharp.Inference;
using HybridSharp.Checkpoints.HfInterop;
using HybridSharp.Models;
using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Mamba1;

/// <summary>
/// OTCE's "logn" factor s_t = max(1, ln(64 + i_t)/ln 4096), i_t = position + 1, on Mamba-1 C and attention Q:
/// value, the config switch, where it acts, and cache paths across position 4032.
/// </summary>
[Collection("Torch")]
public sealed class LognScalingTests
{
    /// <summary>A tiny OTCE-like stack: d 32, Mamba-1 → attention → Mamba-1 → Expresser attention, OTCE MLP / MoE.</summary>
    internal static ModelConfig TinyOtce(bool logn)
    {
        var cfg = Presets.Get("otce-tiny");
        cfg.HiddenSize = 32;
        cfg.IntermediateSize = 64;
        cfg.NumAttentionHeads = 2;
        cfg.NumKeyValueHeads = 1;
        cfg.HeadDimOverride = 16;
        cfg.NumHiddenLayers = 4;
        cfg.LayerTypes = [MixerTypes.Mamba1, MixerTypes.Attention, MixerTypes.Mamba1, MixerTypes.Attention];
        cfg.MlpTypes = [FfnTypes.OtceMlp, "otce_moe", FfnTypes.OtceMlp, FfnTypes.OtceMlp];
        cfg.ExpresserLayers = [3];
        cfg.Mamba1 = new Mamba1Config { Expand = 1, StateSize = 8, DtRank = 2, ConvKernel = 4, ChunkSize = 16 };
        cfg.LognScaling = logn;
        cfg.Validate();
        return cfg;
    }

    private static double MaxDiff(Tensor a, Tensor b) => a.to_type(ScalarType.Float64).sub(b.to_type(ScalarType.Float64)).abs().max().item<double>();

    [Fact]
    public void FactorIsExactlyOneUpToPosition4031AndGrowsLogarithmically()
    {
        Assert.Equal(4032, LognScaling.FirstScaledPosition);
        Assert.Equal(1.0, LognScaling.Factor(0));
        Assert.Equal(1.0, LognScaling.Factor(4031));          // ln(4096)/ln(4096)
        Assert.True(LognScaling.Factor(4032) > 1.0);
        Assert.Equal(Math.Log(8192) / Math.Log(4096), LognScaling.Factor(8192 - 65), 12);

        using var scope = NewDisposeScope();
        Assert.Null(LognScaling.Factors(arange(0L, 4032L).unsqueeze(0), ScalarType.Float32));
        Assert.Null(LognScaling.Factors(arange(0L, 8L).unsqueeze(0), ScalarType.Float32, maxPositionBound: 4031));
        var positions = arange(4000L, 4100L).unsqueeze(0);
        var f = LognScaling.Factors(positions, ScalarType.Float64)!;
        Assert.Equal(ScalarType.Float64, f.dtype);
        Assert.Equal(new long[] { 1, 100 }, f.shape);
        var values = f.data<double>().ToArray();
        for (int k = 0; k < 100; k++) Assert.Equal(LognScaling.Factor(4000 + k), values[k], 14);
        Assert.All(values.Take(32), v => Assert.Equal(1.0, v));
        Assert.All(values.Skip(32), v => Assert.True(v > 1.0));
        Assert.Equal(ScalarType.Float32, LognScaling.Factors(positions, ScalarType.BFloat16)!.dtype);
    }

    [Fact]
    public void SwitchIsOnForTheOtcePresetsOnlyAndRoundTripsThroughJson()
    {
        foreach (var p in Presets.All)
            Assert.True(p.Build().LognScaling == p.Name.StartsWith("otce"), $"{p.Name}: logn_scaling {p.Build().LognScaling}");

        var on = TinyOtce(logn: true);
        var json = on.ToJson();
        Assert.Contains("\"logn_scaling\": true", json);
        Assert.True(ModelConfig.FromJson(json).LognScaling);
        var off = TinyOtce(logn: false);
        Assert.Contains("\"logn_scaling\": false", off.ToJson());
        Assert.False(ModelConfig.FromJson(off.ToJson()).LognScaling);
        // A config.json written before the switch existed loads with it off.
        Assert.False(ModelConfig.FromJson(json.Replace("\"logn_scaling\": true,", "")).LognScaling);
        Assert.DoesNotContain("logn_scaling", json.Replace("\"logn_scaling\": true,", ""));

        // HF Llama has no logn factor: an attention-only model with the switch on is refused by the exporter.
        var llama = Presets.Get("transformer-tiny");
        Assert.Equal("llama", HfExporter.TargetModelType(llama));
        llama.LognScaling = true;
        Assert.Contains("logn_scaling", Assert.Throws<ArgumentException>(() => HfExporter.TargetModelType(llama)).Message);
    }

    [Fact]
    public void OutputIsIdenticalWithTheSwitchOnOrOffUpToPosition4031AndChangesBeyond()
    {
        using var on = new CausalLM(TinyOtce(logn: true), seed: 6);
        using var off = new CausalLM(TinyOtce(logn: false), seed: 6);
        on.eval();
        off.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(2);
        var ids = randint(0, 256, [2, 24], dtype: ScalarType.Int64);
        Assert.Equal(0.0, MaxDiff(on.Forward(ids), off.Forward(ids)));

        // Positions 4020 … 4043: the first 12 tokens (≤ 4031) are bit-identical, every later one differs.
        var positions = arange(4020L, 4044L).unsqueeze(0).expand(2, 24);
        var a = on.Forward(ids, positions: positions);
        var b = off.Forward(ids, positions: positions);
        Assert.Equal(0.0, MaxDiff(a.narrow(1, 0, 12), b.narrow(1, 0, 12)));
        for (int k = 12; k < 24; k++)
            Assert.True(MaxDiff(a.narrow(1, k, 1), b.narrow(1, k, 1)) > 0, $"position {4020 + k}: logn changed nothing");
    }

    [Fact]
    public void Mamba1ScalesOnlyTheScanReadoutByTheFactor()
    {
        // out = out_proj((s·Σ_n C_n h_n + D·x) ⊙ SiLU(z)) is affine in s: out(s) = out(1) + (s − 1)·(out(1) − out(0)).
        var cfg = Mamba1TestUtil.MixerConfig();
        using var mixer = Mamba1TestUtil.NewMixer(cfg, ScalarType.Float64);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(4);
        var x = randn([2, 9, 16], ScalarType.Float64);
        var (cos, sin) = Mamba1TestUtil.RopeFp64(Mamba1TestUtil.Positions(2, 0, 9), 8);
        Tensor Run(Tensor? f) => mixer.Forward(x, new MixerInputs { Cos = cos, Sin = sin, Logn = f });
        var s = rand([2, 9], ScalarType.Float64).mul(2).add(1);
        var plain = Run(null);
        Assert.Equal(0.0, Mamba1TestUtil.MaxAbs(Run(ones([2, 9], ScalarType.Float64)), plain));
        var zeroC = Run(zeros([2, 9], ScalarType.Float64));
        var expected = plain.add(plain.sub(zeroC).mul(s.sub(1).unsqueeze(-1)));
        Assert.True(Mamba1TestUtil.MaxAbs(Run(s), expected) < 1e-12);
        Assert.True(Mamba1TestUtil.MaxAbs(plain, zeroC) > 1e-3, "the scan readout must matter for this test to mean anything");
    }

    [Fact]
    public void AttentionScalesTheQueriesByTheFactor()
    {
        // Q_t ← s·Q_t for every token equals scaling W_q by s (no bias); per-token factors act row by row.
        var cfg = TinyOtce(logn: true);
        manual_seed(8);
        using var attn = new Attention(cfg);
        using var scaled = new Attention(cfg);
        attn.to(ScalarType.Float64);
        scaled.to(ScalarType.Float64);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var p = attn.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        foreach (var (name, q) in scaled.named_parameters()) q.copy_(p[name]);
        const double s = 1.37;
        scaled.named_parameters().Single(kv => kv.name == "q_proj.weight").parameter.mul_(s);

        var x = randn([2, 7, 32], ScalarType.Float64);
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        var (cos, sin) = rope.Compute(arange(7L).unsqueeze(0).expand(2, 7), ScalarType.Float64);
        using var mask = KeyMask.Build(7, 0, null, x.device);
        var withFactor = attn.Forward(x, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask, Logn = full([2, 7], s, ScalarType.Float64) });
        Assert.True(Mamba1TestUtil.MaxAbs(withFactor, scaled.Forward(x, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask })) < 1e-12);
        Assert.True(Mamba1TestUtil.MaxAbs(withFactor, attn.Forward(x, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask })) > 1e-6);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 1e-4)]
    [InlineData(ScalarType.Float64, 1e-10)]
    public void PrefillChunkedPrefillAndDecodeEqualTheFullForwardAcrossPosition4032(ScalarType dtype, double tolerance)
    {
        using var model = new CausalLM(TinyOtce(logn: true), seed: 3);
        using var off = new CausalLM(TinyOtce(logn: false), seed: 3);
        model.to(dtype).eval();
        off.to(dtype).eval();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        manual_seed(12);
        const int total = 4048;
        var ids = randint(0, 256, [1, total], dtype: ScalarType.Int64);
        var full = model.Forward(ids);
        // How much the factor changes the logits beyond position 4031 (the same weights with the switch off).
        double effect = MaxDiff(full.narrow(1, 4032, total - 4032), off.Forward(ids).narrow(1, 4032, total - 4032));

        using var cache = model.NewCache(1, total);
        var parts = new List<Tensor> { model.Forward(ids.narrow(1, 0, 4025), cache), model.Forward(ids.narrow(1, 4025, 5), cache) };
        for (int i = 4030; i < total; i++) parts.Add(model.Forward(ids.narrow(1, i, 1), cache));
        var stitched = cat(parts, 1);
        double diff = MaxDiff(full, stitched);
        Assert.True(diff <= tolerance, $"{dtype}: max diff {diff}");
        // The factor is small this close to 4032 (s ≤ 1 + 4e-4): in fp64 its effect is far above the tolerance, so a cache
        // path that counted positions per call (as upstream does) or dropped the factor would fail here.
        if (dtype == ScalarType.Float64) Assert.True(effect > 1000 * tolerance, $"logn changed the logits by only {effect}");
        else Assert.True(effect > 0);
    }

    [Fact]
    public void SlotCacheRowsOfDifferentLengthsEachGetTheirOwnFactor()
    {
        // Serve path: one row crosses position 4032 while a short row decodes next to it in the same steps (fp64).
        using var model = new CausalLM(TinyOtce(logn: true), seed: 3);
        model.to(ScalarType.Float64).eval();
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        manual_seed(21);
        const int total = 4048, prompt = 4030, shortPrompt = 5, steps = total - prompt;
        var ids = randint(0, 256, [1, total], dtype: ScalarType.Int64);
        var shortIds = randint(0, 256, [1, shortPrompt + steps], dtype: ScalarType.Int64);

        using var slots = new SlotCache(model, maxBatch: 2, capacity: total);
        var row = slots.OpenRow();
        var longLogits = new List<Tensor> { model.Forward(ids.narrow(1, 0, prompt), row) };
        slots.CommitRow(row);
        row = slots.OpenRow();
        var shortLogits = new List<Tensor> { model.Forward(shortIds.narrow(1, 0, shortPrompt), row) };
        slots.CommitRow(row);
        for (int k = 0; k < steps; k++)
        {
            var input = cat([ids.narrow(1, prompt + k, 1), shortIds.narrow(1, shortPrompt + k, 1)], 0);
            using var view = slots.StepView();
            var logits = model.Forward(input, view);
            slots.Advance();
            longLogits.Add(logits.narrow(0, 0, 1));
            shortLogits.Add(logits.narrow(0, 1, 1));
        }
        double longDiff = MaxDiff(cat(longLogits, 1), model.Forward(ids));
        double shortDiff = MaxDiff(cat(shortLogits, 1), model.Forward(shortIds));
        Assert.True(longDiff <= 1e-10 && shortDiff <= 1e-10, $"slot rows differ from full forwards by {longDiff} (long) and {shortDiff} (short)");
    }
}
