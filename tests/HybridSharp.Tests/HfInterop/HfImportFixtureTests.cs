using System.Text.Json.Nodes;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Checkpoints.HfInterop;
using HybridSharp.IO.Safetensors;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static HybridSharp.Tests.HfInterop.HfTestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.HfInterop;

/// <summary>Imports of HF-layout fixtures written by the tests themselves (legacy Doge, sharded Doge-MoE, Mamba-2).</summary>
[Collection("Torch")]
public sealed class HfImportFixtureTests(ITestOutputHelper output)
{
    /// <summary>
    /// Published SmallDoge layout: legacy names (word_embed, pre_layernorm, pre_residual.weight, feed_forward.*,
    /// final_layernorm), no QK-norm, A and dt_proj sized by the 4 query heads (each KV head's row repeated for its 2 query
    /// heads). Must import and give the logits of the upstream-layout model it was made from.
    /// </summary>
    [Fact]
    public void LegacyDogeImportsAndMatchesTheUpstreamModel()
    {
        using var tmp = new TempDir();
        var cfg = Doge(moe: false, qkNorm: false);
        cfg.RopeScaling = new RopeScaling { RopeType = "dynamic", Factor = 4, OriginalMaxPositionEmbeddings = 2048 };
        using var reference = Build(cfg);
        Directory.CreateDirectory(tmp["legacy"]);
        using (var scope = NewDisposeScope())
        {
            var legacy = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, t) in State(reference))
            {
                var n = name
                    .Replace("model.embed_tokens.", "model.word_embed.")
                    .Replace("model.norm.", "model.final_layernorm.")
                    .Replace(".input_layernorm.", ".pre_layernorm.")
                    .Replace(".post_attention_layernorm.", ".post_layernorm.")
                    .Replace(".mlp.", ".feed_forward.");
                if (n.EndsWith(".input_residual")) n = n.Replace(".input_residual", ".pre_residual.weight");
                if (n.EndsWith(".post_attention_residual")) n = n.Replace(".post_attention_residual", ".post_residual.weight");
                // per-query-head mask: mask head h = KV head ⌊h/2⌋
                legacy[n] = n.EndsWith(".self_attn.A") || n.EndsWith(".self_attn.dt_proj.weight") ? t.repeat_interleave(2, 0) : t;
            }
            legacy["model.rotary_emb.inv_freq"] = ones(4); // a buffer some checkpoints carry; dropped on import
            SafetensorsFile.Save(tmp["legacy/model.safetensors"], legacy);
        }
        File.WriteAllText(tmp["legacy/config.json"], """
            {
              "architectures": ["DogeForCausalLM"], "model_type": "doge", "auto_map": {"AutoConfig": "configuration_doge.DogeConfig"},
              "vocab_size": 261, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_bias": false, "hidden_dropout": 0.0,
              "hidden_act": "silu", "max_position_embeddings": 64, "rope_theta": 10000.0,
              "rope_scaling": {"type": "dynamic", "factor": 4.0, "original_max_position_embeddings": 2048},
              "keep_window_size": 5, "dynamic_mask_ratio": 0.0, "is_causal": false, "is_moe": false,
              "num_cdmmoe_experts": 16348, "rms_norm_eps": 1e-06, "tie_word_embeddings": true,
              "bos_token_id": 256, "eos_token_id": 257, "pad_token_id": 258, "torch_dtype": "float32"
            }
            """);
        WriteHfTokenizer(tmp["legacy"]);

        var r = HfImporter.Import(tmp["legacy"], tmp["hs"]);
        output.WriteLine(string.Join("\n", r.Notes));
        Assert.Equal(DmaConfig.Legacy, r.DmaLayout);
        Assert.True(r.LegacyNames);
        Assert.Equal(TokenizerKinds.Hf, r.TokenizerKind);
        var imported = ModelConfig.Load(tmp["hs/config.json"]);
        Assert.Equal(TokenizerKinds.Hf, imported.TokenizerKind);
        Assert.False(imported.Dma!.QkNorm);
        Assert.Equal("dynamic", imported.RopeScaling!.RopeType);
        Assert.True(File.Exists(tmp["hs/tokenizer.json"]));

        using var ids = Ids();
        using var expected = Logits(reference, ids);
        using var got = LogitsOf(tmp["hs"], ids);
        // The legacy layout computes the mask per query head (rows repeated), a different op sequence: rounding only.
        Assert.True(MaxDiff(expected, got) < 1e-5f, $"max |Δlogit| {MaxDiff(expected, got)}");

        // Without QK-norm the model has no exact HF DogeForCausalLM form (transformers always applies q_norm/k_norm): export refuses.
        var ex = Assert.Throws<ArgumentException>(() => HfExporter.Export(tmp["hs"], tmp["hf"]));
        Assert.Contains("QK-norm", ex.Message);
    }

    /// <summary>Legacy layout with QK-norm and group-equal rows exports in the upstream layout, exactly.</summary>
    [Fact]
    public void LegacyLayoutWithEqualGroupRowsExportsAsUpstream()
    {
        using var tmp = new TempDir();
        using var upstream = Build(Doge(moe: false));
        using var legacy = new global::HybridSharp.Models.CausalLM(Doge(moe: false, layout: DmaConfig.Legacy));
        legacy.eval();
        using (no_grad())
        {
            var src = State(upstream);
            foreach (var (name, t) in State(legacy))
                t.copy_(name.EndsWith(".self_attn.A") || name.EndsWith(".self_attn.dt_proj.weight") ? src[name].repeat_interleave(2, 0) : src[name]);
        }
        SaveHybrid(legacy, tmp["hs"]);
        var r = HfExporter.Export(tmp["hs"], tmp["hf"]);
        Assert.Contains(r.Notes, n => n.Contains("collapsed"));
        Assert.Equal([2L], SafetensorsFile.ReadHeader(tmp["hf/model.safetensors"])["model.layers.0.self_attn.A"].Shape);
        HfImporter.Import(tmp["hf"], tmp["back"]);
        using var ids = Ids();
        using var expected = Logits(upstream, ids);
        using var got = LogitsOf(tmp["back"], ids);
        Assert.Equal(0f, MaxDiff(expected, got));
    }

    /// <summary>
    /// Upstream Doge-MoE written the way transformers saves it (DogeConfig keys, no HybridSharp keys) as two shards
    /// plus an index, with an untied head: imports, routes with transformers' cross-token view, and matches.
    /// </summary>
    [Fact]
    public void ShardedDogeMoeImportsWithTransformersRouting()
    {
        using var tmp = new TempDir();
        using var reference = Build(Doge(moe: true, tie: false, routerView: true));
        Directory.CreateDirectory(tmp["hf"]);
        WriteSharded(tmp["hf"], State(reference));
        File.WriteAllText(tmp["hf/config.json"], """
            {
              "architectures": ["DogeForCausalLM"], "model_type": "doge", "vocab_size": 261, "hidden_size": 32,
              "intermediate_size": 48, "num_hidden_layers": 2, "hidden_dropout": 0.0, "hidden_act": "silu",
              "initializer_range": 0.02, "rms_norm_eps": 1e-06, "use_cache": true, "tie_word_embeddings": false,
              "max_position_embeddings": 64, "rope_theta": 10000.0, "rope_scaling": null, "num_attention_heads": 4,
              "num_key_value_heads": 2, "attention_bias": false, "attention_dropout": 0.0, "mlp_bias": false,
              "sliding_window": null, "keep_window_size": 5, "is_moe": true, "num_experts": 16, "num_experts_per_tok": 3,
              "norm_topk_prob": false, "output_router_logits": false, "router_aux_loss_coef": 0.001,
              "bos_token_id": null, "eos_token_id": null, "pad_token_id": null, "torch_dtype": "float32", "transformers_version": "4.56.2"
            }
            """);
        WriteHfTokenizer(tmp["hf"]);
        File.WriteAllText(tmp["hf/generation_config.json"], """{"bos_token_id": 256, "eos_token_id": 257, "max_new_tokens": 77}""");

        var r = HfImporter.Import(tmp["hf"], tmp["hs"]);
        Assert.True(r.Sharded);
        var cfg = ModelConfig.Load(tmp["hs/config.json"]);
        Assert.True(cfg.Moe!.CdmoeUpstreamRouterView);
        Assert.Equal([FfnTypes.CdMoe, FfnTypes.CdMoe], cfg.MlpTypes);
        Assert.False(cfg.TieWordEmbeddings);
        Assert.Equal(257, cfg.EosTokenId![0]); // null in config.json: taken from the tokenizer
        Assert.Contains("77", File.ReadAllText(tmp["hs/generation_config.json"])); // the source's generation config is kept

        using var ids = Ids();
        using var expected = Logits(reference, ids);
        using var got = LogitsOf(tmp["hs"], ids);
        Assert.Equal(0f, MaxDiff(expected, got));
    }

    /// <summary>An HF Mamba-2 checkpoint (backbone.* names, Mamba2Config with Python's bare Infinity) imports into an SSD stack.</summary>
    [Fact]
    public void HfMamba2ImportsIntoAnSsdStack()
    {
        using var tmp = new TempDir();
        using var reference = Build(Mamba2(tie: false));
        Directory.CreateDirectory(tmp["hf"]);
        using (var scope = NewDisposeScope())
        {
            var hf = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, t) in State(reference))
            {
                var n = name switch
                {
                    "model.embed_tokens.weight" => "backbone.embeddings.weight",
                    "model.norm.weight" => "backbone.norm_f.weight",
                    _ => name.Replace("model.layers.", "backbone.layers.").Replace(".input_layernorm.", ".norm.").Replace(".mamba.", ".mixer."),
                };
                hf[n] = t.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32); // HF checkpoints are often bf16-valued
            }
            SafetensorsFile.Save(tmp["hf/model.safetensors"], hf);
            using var g = no_grad();
            foreach (var (name, t) in State(reference)) t.copy_(t.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32));
        }
        File.WriteAllText(tmp["hf/config.json"], """
            {
              "architectures": ["Mamba2ForCausalLM"], "model_type": "mamba2", "vocab_size": 261, "hidden_size": 32,
              "num_hidden_layers": 2, "num_heads": 4, "head_dim": 16, "state_size": 8, "expand": 2, "conv_kernel": 4,
              "n_groups": 2, "use_bias": false, "use_conv_bias": true, "hidden_act": "silu", "initializer_range": 0.1,
              "layer_norm_epsilon": 1e-05, "residual_in_fp32": true, "time_step_rank": "auto", "time_step_min": 0.001,
              "time_step_max": 0.1, "time_step_floor": 0.0001, "time_step_limit": [0.0, Infinity], "rescale_prenorm_residual": false,
              "rms_norm": true, "chunk_size": 256, "tie_word_embeddings": false, "pad_token_id": 258, "bos_token_id": 256, "eos_token_id": 257
            }
            """);
        WriteHfTokenizer(tmp["hf"]);

        var r = HfImporter.Import(tmp["hf"], tmp["hs"]);
        Assert.Equal("Mamba2ForCausalLM", r.Architecture);
        var cfg = ModelConfig.Load(tmp["hs/config.json"]);
        Assert.All(cfg.LayerTypes!, t => Assert.Equal(MixerTypes.Ssd, t));
        Assert.All(cfg.MlpTypes!, t => Assert.Equal(FfnTypes.None, t));
        Assert.Equal(2, cfg.Ssd!.NGroups);
        Assert.True(double.IsPositiveInfinity(cfg.Ssd.TimeStepLimit[1]));

        using var ids = Ids(t: 11);
        using var expected = Logits(reference, ids);
        using var got = LogitsOf(tmp["hs"], ids);
        output.WriteLine($"mamba2 import: max |Δlogit| = {MaxDiff(expected, got):E2} (chunk {cfg.Ssd.ChunkSize} vs {reference.Config.Ssd!.ChunkSize})");
        Assert.True(MaxDiff(expected, got) <= 1e-5f, $"{MaxDiff(expected, got)}");
    }

    /// <summary>Qwen2 layout: q/k/v biases but none on o_proj; imports as a Llama-layout stack with a zero o_proj bias (exact).</summary>
    [Fact]
    public void Qwen2StyleBiasesImportWithAZeroOutputBias()
    {
        using var tmp = new TempDir();
        using var reference = Build(Llama(tie: true, bias: true));
        Directory.CreateDirectory(tmp["hf"]);
        using (var scope = NewDisposeScope())
        {
            var state = State(reference);
            using (no_grad()) foreach (var (name, t) in state) if (name.EndsWith("o_proj.bias")) t.zero_();
            SafetensorsFile.Save(tmp["hf/model.safetensors"], state.Where(kv => !kv.Key.EndsWith("o_proj.bias")).ToDictionary(kv => kv.Key, kv => kv.Value));
        }
        File.WriteAllText(tmp["hf/config.json"], """
            {
              "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 261, "hidden_size": 32, "intermediate_size": 48,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
              "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "tie_word_embeddings": true, "use_sliding_window": false,
              "sliding_window": 32, "hidden_act": "silu", "bos_token_id": 256, "eos_token_id": [257, 260]
            }
            """);
        WriteHfTokenizer(tmp["hf"]);
        var r = HfImporter.Import(tmp["hf"], tmp["hs"]);
        Assert.Contains(r.Notes, n => n.Contains("zero o_proj bias"));
        var cfg = ModelConfig.Load(tmp["hs/config.json"]);
        Assert.True(cfg.AttentionBias);
        Assert.Equal([257, 260], cfg.EosTokenId);
        using var ids = Ids();
        using var expected = Logits(reference, ids);
        using var got = LogitsOf(tmp["hs"], ids);
        Assert.Equal(0f, MaxDiff(expected, got));
    }

    [Fact]
    public void UnknownModelTypeIsRejectedWithAClearMessage()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["hf"]);
        File.WriteAllText(tmp["hf/config.json"], """{"model_type": "bert", "hidden_size": 32}""");
        var ex = Assert.Throws<ArgumentException>(() => HfImporter.Import(tmp["hf"], tmp["hs"]));
        output.WriteLine(ex.Message);
        Assert.Contains("model_type 'bert' is not supported", ex.Message);
        Assert.Contains("doge", ex.Message);
        Assert.Contains("mamba2", ex.Message);
        Assert.False(Directory.Exists(tmp["hs"]));

        File.WriteAllText(tmp["hf/config.json"], """{"hidden_size": 32}""");
        ex = Assert.Throws<ArgumentException>(() => HfImporter.Import(tmp["hf"], tmp["hs"]));
        Assert.Contains("(missing)", ex.Message);
    }

    [Fact]
    public void MismatchedWeightsAndPickleCheckpointsGiveClearErrors()
    {
        using var tmp = new TempDir();
        Directory.CreateDirectory(tmp["hf"]);
        File.WriteAllText(tmp["hf/config.json"], """{"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2}""");
        File.WriteAllBytes(tmp["hf/pytorch_model.bin"], [0]);
        var ex1 = Assert.Throws<InvalidDataException>(() => HfImporter.Import(tmp["hf"], tmp["hs"]));
        Assert.Contains("safetensors", ex1.Message);

        // Weights of a 2-layer model under a config that says 3 layers.
        using (var m = Build(Llama())) SafetensorsFile.Save(tmp["hf/model.safetensors"], State(m));
        File.WriteAllText(tmp["hf/config.json"], """{"model_type": "llama", "vocab_size": 261, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2}""");
        var ex2 = Assert.Throws<InvalidDataException>(() => HfImporter.Import(tmp["hf"], tmp["hs"]));
        Assert.Contains("num_hidden_layers = 3", ex2.Message);

        // Wrong intermediate size: the strict loader names the tensor.
        File.WriteAllText(tmp["hf/config.json"], """{"model_type": "llama", "vocab_size": 261, "hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}""");
        var ex3 = Assert.Throws<InvalidDataException>(() => HfImporter.Import(tmp["hf"], tmp["hs"]));
        Assert.Contains("gate_proj", ex3.Message);
        Assert.False(Directory.Exists(tmp["hs"]));
    }

    [Fact]
    public void ByteTokenizerJsonIsEquivalentToTheByteTokenizer()
    {
        var bytes = new ByteTokenizer();
        var hf = HfBpeTokenizer.FromJson(HfTokenizerFiles.ByteTokenizerJson(), HfTokenizerFiles.ByteTokenizerConfigJson(2048));
        Assert.Equal(bytes.VocabSize, hf.VocabSize);
        Assert.Equal(bytes.BosId, hf.BosId);
        Assert.Equal(bytes.EosId, hf.EosId);
        Assert.Equal(bytes.PadId, hf.PadId);
        foreach (var text in new[] { "Hello, world!", "  two  spaces\n\ttab\r\n", "héllo wörld — ∑ 漢字 🙂", "<|im_start|>user\nhi<|im_end|>\n<|eos|>", "a<|b|>c<|", "123 4567" })
            Assert.Equal(bytes.Encode(text), hf.Encode(text));
        var all = Enumerable.Range(0, 261).ToArray();
        Assert.Equal(bytes.Decode(all), hf.Decode(all));
    }
}
