using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Eval;
using HybridSharp.Eval.Mqar;
using HybridSharp.Inference;
using HybridSharp.IO.Safetensors;
using HybridSharp.Models;
using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using HybridSharp.Checkpoints;
using HybridSharp.Caching;

namespace HybridSharp.Tests.Mamba1;

/// <summary>The OTCE stack: presets, config round trip, Expresser block, cache paths, training, scoring, generation, save/load.</summary>
[Collection("Torch")]
public sealed class OtceModelTests
{
    private static ModelConfig Tiny(string kind = MoeConfig.OtceExpansive)
    {
        var cfg = Presets.Get("otce-tiny");
        cfg.Mamba1!.ChunkSize = 4;   // several chunks even for short test sequences
        cfg.Moe!.OtceMoeKind = kind;
        return cfg;
    }

    private static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Fact]
    public void PresetsFollowTheObserverThinkerConceiverExpresserLayout()
    {
        var full = Presets.Get("otce");
        Assert.Equal(24, full.NumHiddenLayers);
        Assert.Equal([.. Enumerable.Repeat("mamba1", 12), "attention", "attention", .. Enumerable.Repeat("mamba1", 9), "attention"], full.LayerTypes!);
        var mlps = full.MlpTypes!;
        Assert.Equal("otce_mlp", mlps[0]);
        Assert.All(mlps.Skip(1).Take(21), t => Assert.Equal("otce_moe", t));
        Assert.Equal(["otce_mlp", "otce_mlp"], mlps.Skip(22));
        Assert.Equal([23], full.ExpresserLayers!);
        Assert.Equal((1024, 4096, 16, 8, 64), (full.HiddenSize, full.IntermediateSize, full.NumAttentionHeads, full.NumKvHeads, full.HeadDim));
        Assert.Equal((1, 64, 64, 4), (full.Mamba1!.Expand, full.Mamba1.StateSize, full.Mamba1.Rank(1024), full.Mamba1.ConvKernel));
        Assert.Equal((4, 1, "expansive"), (full.Moe!.NumExperts, full.Moe.NumExpertsPerTok, full.Moe.OtceMoeKind));
        Assert.False(full.TieWordEmbeddings);

        var s = Presets.Get("otce-s");
        Assert.Equal([.. Enumerable.Repeat("mamba1", 4), "attention", .. Enumerable.Repeat("mamba1", 3), "attention"], s.LayerTypes!);
        Assert.Equal((256, 512, 2, 1, 64, 16), (s.HiddenSize, s.IntermediateSize, s.NumAttentionHeads, s.NumKvHeads, s.Mamba1!.StateSize, s.Mamba1.Rank(256)));
        Assert.Equal([8], s.ExpresserLayers!);
    }

    [Fact]
    public void ConfigRoundTripsThroughJson()
    {
        var cfg = Tiny(MoeConfig.OtceCohesive);
        var json = cfg.ToJson();
        Assert.Contains("\"mamba1\"", json);
        Assert.Contains("\"otce_moe_kind\": \"cohesive\"", json);
        Assert.Contains("\"expresser_layers\"", json);
        var back = ModelConfig.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(cfg.LayerTypes, back.LayerTypes);
        Assert.Equal(cfg.MlpTypes, back.MlpTypes);
        Assert.Equal(4, back.Mamba1!.ChunkSize);

        var bad = ModelConfig.FromJson(json);
        bad.ExpresserLayers = [9];
        Assert.Throws<ConfigException>(bad.Validate);
        bad.ExpresserLayers = [5];
        bad.Moe!.OtceMoeKind = "sideways";
        Assert.Throws<ConfigException>(bad.Validate);
    }

    [Theory]
    [InlineData("otce-tiny")]
    [InlineData("otce-s")]
    [InlineData("otce")]
    public void ModelInfoCountsEveryParameter(string preset)
    {
        foreach (var kind in new[] { MoeConfig.OtceExpansive, MoeConfig.OtceCohesive })
        {
            var cfg = Presets.Get(preset);
            cfg.Moe!.OtceMoeKind = kind;
            var info = ModelInfo.For(cfg, 512);
            if (preset == "otce")
            {
                // Too big to build in a unit test: check the Mamba-1 layer by hand (shapes, no biases).
                long d = 1024, din = 1024, n = 64, r = 64;
                long mixer = 2 * din * d + din * 4 + (r + 2 * n) * din + din * r + din * n + din + (r + 2 * n) + d * din;
                long dense = 3 * d * 4096;
                Assert.Equal(mixer + dense + 2 * d, info.Layers[0].Parameters);
                continue;
            }
            using var model = new CausalLM(cfg);
            Assert.Equal(model.ParameterCount(), info.TotalParameters);
            Assert.True(info.TrainingFlopsPerToken > 6.0 * info.NonEmbeddingParameters);
        }
    }

    [Fact]
    public void ExpresserBlockAddsTheDenseProjectionTail()
    {
        var cfg = Tiny();
        cfg.NumHiddenLayers = 1;
        cfg.LayerTypes = ["attention"];
        cfg.MlpTypes = ["otce_mlp"];
        cfg.ExpresserLayers = [0];
        var plainCfg = cfg.Clone();
        plainCfg.ExpresserLayers = null;
        manual_seed(3);
        using var expresser = new DecoderLayer(cfg, 0);
        using var plain = new DecoderLayer(plainCfg, 0);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var p = expresser.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        foreach (var (name, q) in plain.named_parameters()) q.copy_(p[name]);
        Assert.Contains("pre_dense_layernorm.weight", p.Keys);
        Assert.Equal(new long[] { 64, 64 }, p["dense.weight"].shape);
        Assert.Equal(new long[] { 64, 64 }, p["projection.weight"].shape);
        p["pre_dense_layernorm.weight"].uniform_(0.5, 1.5);

        var h0 = randn([2, 5, 64]);
        var rope = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta);
        var (cos, sin) = rope.Compute(arange(5).unsqueeze(0).expand(2, 5), ScalarType.Float32);
        using var mask = KeyMask.Build(5, 0, null, h0.device);
        var inner = plain.Forward(h0, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask });
        var expected = nn.functional.linear(
            nn.functional.silu(nn.functional.linear(RmsNorm.Apply(inner, p["pre_dense_layernorm.weight"], cfg.RmsNormEps).add(h0), p["dense.weight"])),
            p["projection.weight"]);
        Assert.True(MaxDiff(expresser.Forward(h0, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask }), expected) <= 1e-5);
    }

    [Theory]
    [InlineData(MoeConfig.OtceExpansive)]
    [InlineData(MoeConfig.OtceCohesive)]
    public void PrefillChunkedPrefillAndDecodeEqualTheFullForward(string kind)
    {
        using var model = new CausalLM(Tiny(kind), seed: 3);
        model.eval();
        using var _ = no_grad();
        manual_seed(5);
        using var ids = randint(0, model.Config.VocabSize, [2, 14], dtype: ScalarType.Int64);
        using var full = model.Forward(ids);
        using var cache = model.NewCache(2, 20);
        var parts = new List<Tensor> { model.Forward(ids.narrow(1, 0, 6), cache), model.Forward(ids.narrow(1, 6, 5), cache) };
        for (int i = 11; i < 14; i++) parts.Add(model.Forward(ids.narrow(1, i, 1), cache));
        using var stitched = cat(parts, 1);
        Assert.True(MaxDiff(full, stitched) <= 1e-4, $"max diff {MaxDiff(full, stitched)}");
        Assert.Equal(4, cache.Layers.OfType<Mamba1Cache>().Count());
        Assert.Equal(2, cache.Layers.OfType<KvCache>().Count());
    }

    [Fact]
    public void Mamba1DecodeStateDoesNotGrowWithLength()
    {
        using var model = new CausalLM(Tiny(), seed: 1);
        model.eval();
        using var _ = inference_mode();
        using var cache = model.NewCache(1, 200);
        model.Forward(tensor(new long[] { 1, 2, 3 }).reshape(1, 3), cache).Dispose();
        long Elements() => cache.Layers.OfType<Mamba1Cache>().Sum(c => c.ElementCount);
        long before = Elements();
        for (int i = 0; i < 30; i++) model.Forward(tensor(new long[] { i % 200 }).reshape(1, 1), cache).Dispose();
        Assert.Equal(before, Elements());
        Assert.Equal(4 * (64 * 16 + 64 * 4), before);
    }

    [Fact]
    public void TinyPresetTrainsScoresAndGenerates()
    {
        using var model = new CausalLM(Tiny(), seed: 2);
        var tok = new ByteTokenizer();
        manual_seed(9);
        using var ids = randint(0, 256, [2, 25], dtype: ScalarType.Int64);
        using var inputs = ids.narrow(1, 0, 24).contiguous();
        using var targets = ids.narrow(1, 1, 24).contiguous();
        using var opt = optim.AdamW(model.parameters(), lr: 3e-3);
        model.train();
        var losses = new List<double>();
        for (int step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = model.Loss(inputs, targets);
            loss.backward();
            opt.step();
            losses.Add(loss.item<float>());
        }
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses[^1] < losses[0] - 0.3, $"loss did not decrease: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");

        model.eval();
        var score = TextScorer.Score(model, tok, "observer, thinker, conceiver");
        Assert.True(score.Tokens > 10 && double.IsFinite(score.Perplexity) && score.Perplexity > 1);

        var gen = new TextGenerator(model, tok);
        var options = new GenerationOptions { MaxNewTokens = 4, Sampling = SamplingOptions.Greedy, StopTokens = [] };
        var batched = gen.Generate(["a longer prompt", "hi"], options);
        Assert.Equal(4, batched[0].GeneratedTokens);
        Assert.Equal(gen.Generate("a longer prompt", options).TokenIds, batched[0].TokenIds);
        Assert.Equal(gen.Generate("hi", options).TokenIds, batched[1].TokenIds);
    }

    [Fact]
    public void SavesAndLoadsWithTheCheckpointNames()
    {
        using var tmp = new TempDir();
        using var model = new CausalLM(Tiny(), seed: 8);
        ModelDirectory.Save(model, new ByteTokenizer(), tmp.Path);
        var names = SafetensorsFile.Load(Path.Combine(tmp.Path, "model.safetensors")).Keys.ToHashSet();
        foreach (var n in new[]
                 {
                     "model.layers.0.mamba.in_proj.weight", "model.layers.0.mamba.conv1d.weight", "model.layers.0.mamba.x_proj.weight",
                     "model.layers.0.mamba.dt_proj.weight", "model.layers.0.mamba.A_log", "model.layers.0.mamba.D",
                     "model.layers.0.mamba.dt_layernorm.weight", "model.layers.0.mamba.B_layernorm.weight",
                     "model.layers.0.mamba.C_layernorm.weight", "model.layers.0.mamba.out_proj.weight",
                     "model.layers.0.mlp.gate_proj.weight", "model.layers.1.mlp.router.weight", "model.layers.1.mlp.shared_gate_proj.weight",
                     "model.layers.1.mlp.experts.3.shared_expert_gate.weight", "model.layers.2.self_attn.q_proj.weight",
                     "model.layers.5.pre_dense_layernorm.weight", "model.layers.5.dense.weight", "model.layers.5.projection.weight",
                     "lm_head.weight",
                 })
            Assert.Contains(n, names);
        var (loaded, _) = ModelDirectory.Load(tmp.Path);
        using var __ = loaded;
        Assert.Equal(model.Config.ToJson(), loaded.Config.ToJson());
        model.eval();
        loaded.eval();
        using var ng = no_grad();
        using var ids = randint(0, 256, [2, 9], dtype: ScalarType.Int64);
        using var a = model.Forward(ids);
        using var b = loaded.Forward(ids);
        Assert.True(a.Equals(b), "logits differ after reload");
    }

    [Theory]
    [InlineData(MqarModels.Mamba1, new[] { "mamba1", "mamba1" })]
    [InlineData(MqarModels.Otce, new[] { "mamba1", "attention" })]
    public void MqarFactoryBuildsMamba1Stacks(string mixer, string[] layers)
    {
        var cfg = MqarModels.Build(mixer, 64, mlp: false);
        Assert.Equal(layers, cfg.LayerTypes);
        using var model = new CausalLM(cfg);
        using var _ = no_grad();
        using var logits = model.Forward(randint(0, cfg.VocabSize, [1, 12], dtype: ScalarType.Int64));
        Assert.True(logits.isfinite().all().item<bool>());
    }
}

[Collection("Torch")]
public sealed class OtceCausalityTests
{
    [Theory]
    [InlineData("otce-tiny", MoeConfig.OtceExpansive)]
    [InlineData("otce-tiny", MoeConfig.OtceCohesive)]
    public void LaterTokensNeverChangeEarlierLogits(string preset, string kind)
    {
        var cfg = Presets.Get(preset);
        cfg.Moe!.OtceMoeKind = kind;
        using var model = new CausalLM(cfg, seed: 4);
        model.eval();
        using var _ = no_grad();
        for (int trial = 0; trial < 3; trial++)
        {
            manual_seed(40 + trial);
            using var ids = randint(0, cfg.VocabSize, [2, 21], dtype: ScalarType.Int64);
            using var ids2 = ids.clone();
            ids2[0, 13] = (ids[0, 13] + 1) % cfg.VocabSize;
            ids2[1, 9] = (ids[1, 9] + 7) % cfg.VocabSize;
            using var a = model.Forward(ids);
            using var b = model.Forward(ids2);
            Assert.Equal(0.0, (a.narrow(1, 0, 9) - b.narrow(1, 0, 9)).abs().max().item<float>());
            Assert.True((a.narrow(1, 13, 8) - b.narrow(1, 13, 8)).abs().max().item<float>() > 0);
        }
    }
}
