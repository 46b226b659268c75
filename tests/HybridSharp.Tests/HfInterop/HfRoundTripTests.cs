using System.Text.Json.Nodes;
using HybridSharp.Config;
using HybridSharp.Checkpoints.HfInterop;
using HybridSharp.IO.Safetensors;
using Xunit;
using Xunit.Abstractions;
using static HybridSharp.Tests.HfInterop.HfTestUtil;

namespace HybridSharp.Tests.HfInterop;

/// <summary>HybridSharp → HF (export) → HybridSharp (import) keeps the model exactly.</summary>
[Collection("Torch")]
public sealed class HfRoundTripTests(ITestOutputHelper output)
{
    private (HfExportResult Export, HfImportResult Import, float Diff) RoundTrip(ModelConfig cfg, TempDir tmp, string dtype = "float32")
    {
        using var model = Build(cfg);
        SaveHybrid(model, tmp["hs"]);
        var exported = HfExporter.Export(tmp["hs"], tmp["hf"], "hf", new HfExportOptions { Dtype = dtype });
        var imported = HfImporter.Import(tmp["hf"], tmp["back"]);
        using var ids = Ids();
        using var before = Logits(model, ids);
        using var after = LogitsOf(tmp["back"], ids);
        var diff = MaxDiff(before, after);
        output.WriteLine($"{exported.Architecture} {dtype}: max |Δlogit| = {diff:E2}; notes: {string.Join(" | ", exported.Notes.Concat(imported.Notes))}");
        return (exported, imported, diff);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DogeExportThenImportGivesIdenticalLogits(bool moe)
    {
        using var tmp = new TempDir();
        var (export, import, diff) = RoundTrip(Doge(moe), tmp);
        Assert.Equal("doge", export.ModelType);
        Assert.Equal("DogeForCausalLM", import.Architecture);
        Assert.Equal(DmaConfig.Upstream, import.DmaLayout);
        Assert.Equal(0f, diff);
        var back = ModelConfig.Load(Path.Combine(tmp["back"], "config.json"));
        Assert.Equal("byte", back.TokenizerKind); // the exported tokenizer_config.json names the byte tokenizer
        Assert.True(back.Dma!.QkNorm);
        if (moe) Assert.False(back.Moe!.CdmoeUpstreamRouterView); // carried by the extra config key
    }

    [Fact]
    public void LlamaExportThenImportGivesIdenticalLogits()
    {
        using var tmp = new TempDir();
        var (export, import, diff) = RoundTrip(Llama(tie: false, bias: true), tmp);
        Assert.Equal("llama", export.ModelType);
        Assert.Equal("LlamaForCausalLM", import.Architecture);
        Assert.Equal(0f, diff);
        var hf = JsonNode.Parse(File.ReadAllText(tmp["hf/config.json"]))!.AsObject();
        Assert.Equal("llama", (string?)hf["model_type"]);
        Assert.Equal("LlamaForCausalLM", (string?)hf["architectures"]![0]);
        Assert.True(SafetensorsFile.ReadHeader(tmp["hf/model.safetensors"]).Contains("lm_head.weight"));
    }

    [Fact]
    public void Mamba2ExportThenImportGivesIdenticalLogits()
    {
        using var tmp = new TempDir();
        var (export, _, diff) = RoundTrip(Mamba2(tie: true), tmp);
        Assert.Equal("mamba2", export.ModelType);
        Assert.Equal(0f, diff);
        var header = SafetensorsFile.ReadHeader(tmp["hf/model.safetensors"]);
        Assert.True(header.Contains("backbone.embeddings.weight"));
        Assert.True(header.Contains("backbone.layers.1.mixer.in_proj.weight"));
        Assert.False(header.Contains("lm_head.weight"));
    }

    [Fact]
    public void ExportedDogeConfigHasDogeConfigKeysAndHfNames()
    {
        using var tmp = new TempDir();
        using var model = Build(Doge(moe: true));
        SaveHybrid(model, tmp["hs"]);
        HfExporter.Export(tmp["hs"], tmp["hf"]);
        var c = JsonNode.Parse(File.ReadAllText(tmp["hf/config.json"]))!.AsObject();
        string[] keys =
        [
            "architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "hidden_dropout",
            "hidden_act", "initializer_range", "rms_norm_eps", "use_cache", "tie_word_embeddings", "max_position_embeddings",
            "rope_theta", "rope_scaling", "num_attention_heads", "num_key_value_heads", "attention_bias", "attention_dropout", "mlp_bias",
            "sliding_window", "keep_window_size", "is_moe", "num_experts", "num_experts_per_tok", "norm_topk_prob",
            "output_router_logits", "router_aux_loss_coef", "bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype",
        ];
        foreach (var k in keys) Assert.True(c.ContainsKey(k), $"config.json lacks {k}");
        Assert.Equal("doge", (string?)c["model_type"]);
        Assert.Equal("DogeForCausalLM", (string?)c["architectures"]![0]);
        Assert.True((bool)c["is_moe"]!);
        Assert.Equal(16, (int)c["num_experts"]!);
        Assert.Equal(3, (int)c["num_experts_per_tok"]!);
        Assert.Equal(5, (int)c["keep_window_size"]!);
        Assert.True((bool)c["tie_word_embeddings"]!);
        Assert.Equal("float32", (string?)c["torch_dtype"]);
        Assert.Contains(".", c["rms_norm_eps"]!.ToJsonString() + c["attention_dropout"]!.ToJsonString()); // floats stay floats for Python

        var header = SafetensorsFile.ReadHeader(tmp["hf/model.safetensors"]);
        Assert.Equal("pt", header.Metadata["format"]);
        Assert.False(header.Contains("lm_head.weight")); // tied
        Assert.Equal([2L], header["model.layers.0.self_attn.A"].Shape);                // [Hkv]
        Assert.Equal([2L, 16L], header["model.layers.0.self_attn.dt_proj.weight"].Shape); // [Hkv, Hkv·P]
        Assert.Equal([8L], header["model.layers.1.self_attn.q_norm.weight"].Shape);
        Assert.Equal([32L], header["model.layers.1.input_residual"].Shape);
        Assert.Equal([8L, 32L], header["model.layers.1.mlp.router_gate.weight"].Shape);
        Assert.Equal([16L, 32L], header["model.layers.1.mlp.up_embed.weight"].Shape);
        Assert.All(header.Tensors, t => Assert.Equal("F32", t.DType));

        // Tokenizer and generation files HF reads.
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json" })
            Assert.True(File.Exists(tmp[$"hf/{f}"]), f);
        var tc = JsonNode.Parse(File.ReadAllText(tmp["hf/tokenizer_config.json"]))!.AsObject();
        Assert.Equal("PreTrainedTokenizerFast", (string?)tc["tokenizer_class"]);
        Assert.Contains("<|im_start|>", (string?)tc["chat_template"]);
    }

    [Fact]
    public void Bfloat16ExportWritesBf16AndReimportsClosely()
    {
        using var tmp = new TempDir();
        var (export, _, diff) = RoundTrip(Doge(moe: false), tmp, "bf16");
        Assert.Equal("bfloat16", export.Dtype);
        Assert.All(SafetensorsFile.ReadHeader(tmp["hf/model.safetensors"]).Tensors, t => Assert.Equal("BF16", t.DType));
        Assert.Equal("bfloat16", (string?)JsonNode.Parse(File.ReadAllText(tmp["hf/config.json"]))!["torch_dtype"]);
        Assert.True(diff < 0.1f, $"bf16 round trip moved logits by {diff}");
    }

    [Fact]
    public void StacksWithoutAnHfArchitectureAreRejectedClearly()
    {
        using var tmp = new TempDir();
        var hybrid = Presets.Get("transxssm-tiny");
        hybrid.NumHiddenLayers = 2;
        hybrid.LayerTypes = [MixerTypes.Ssd, MixerTypes.Attention];
        hybrid.HiddenSize = 32; hybrid.IntermediateSize = 48; hybrid.NumAttentionHeads = 2; hybrid.NumKeyValueHeads = 1; hybrid.HeadDimOverride = 16;
        hybrid.Ssd = new SsdConfig { Expand = 1, HeadDim = 16, StateSize = 16, NGroups = 2, ConvKernel = 0, Gated = false, ChunkSize = 4, Rope = true };
        using (var m = Build(hybrid)) SaveHybrid(m, tmp["hybrid"]);
        var ex = Assert.Throws<ArgumentException>(() => HfExporter.Export(tmp["hybrid"], tmp["out1"]));
        Assert.Contains("no architecture matching", ex.Message);

        using (var m = Build(Doge(moe: false, qkNorm: false))) SaveHybrid(m, tmp["noqk"]);
        ex = Assert.Throws<ArgumentException>(() => HfExporter.Export(tmp["noqk"], tmp["out2"]));
        Assert.Contains("q_norm", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => HfExporter.Export(tmp["noqk"], tmp["out3"], "gguf"));
        Assert.Contains("unknown export format", ex.Message);
        Assert.False(Directory.Exists(tmp["out1"]) || Directory.Exists(tmp["out2"]) || Directory.Exists(tmp["out3"]));
    }

    [Fact]
    public void ExistingTargetNeedsOverwrite()
    {
        using var tmp = new TempDir();
        using (var m = Build(Llama())) SaveHybrid(m, tmp["hs"]);
        HfExporter.Export(tmp["hs"], tmp["hf"]);
        var ex = Assert.Throws<ArgumentException>(() => HfExporter.Export(tmp["hs"], tmp["hf"]));
        Assert.Contains("`overwrite`", ex.Message);
        HfExporter.Export(tmp["hs"], tmp["hf"], options: new HfExportOptions { Overwrite = true });
        HfImporter.Import(tmp["hf"], tmp["back"]);
        ex = Assert.Throws<ArgumentException>(() => HfImporter.Import(tmp["hf"], tmp["back"]));
        Assert.Contains("`overwrite`", ex.Message);
        HfImporter.Import(tmp["hf"], tmp["back"], new HfImportOptions { Overwrite = true });
        Assert.DoesNotContain(Directory.GetDirectories(tmp.Path), d => Path.GetFileName(d).StartsWith('.')); // no staging left behind
    }
}
