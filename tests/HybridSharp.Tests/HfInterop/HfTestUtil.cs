using System.Text.Json.Nodes;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.IO.Safetensors;
using HybridSharp.Models;
using static TorchSharp.torch;
using HybridSharp.Checkpoints;

namespace HybridSharp.Tests.HfInterop;

/// <summary>Tiny models and fixture writers for the HF import/export tests.</summary>
internal static class HfTestUtil
{
    public const int Vocab = 261; // the byte tokenizer's size

    /// <summary>Doge-like: 2 DMA layers, 4/2 heads × 8, keep window 5 (so top-k masking is active for T > 5), residual vectors.</summary>
    public static ModelConfig Doge(bool moe, bool qkNorm = true, string layout = DmaConfig.Upstream, bool tie = true, bool routerView = false) => new()
    {
        ModelType = "doge",
        Architectures = ["DogeForCausalLM"],
        VocabSize = Vocab, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, TieWordEmbeddings = tie,
        UseResidualVectors = true,
        LayerTypes = LayerPattern.Uniform(2, MixerTypes.Dma),
        MlpTypes = LayerPattern.Uniform(2, moe ? FfnTypes.CdMoe : FfnTypes.Mlp),
        Dma = new DmaConfig { KeepWindowSize = 5, QkNorm = qkNorm, Layout = layout },
        Moe = moe ? new MoeConfig { NumExperts = 16, NumExpertsPerTok = 3, CdmoeUpstreamRouterView = routerView } : null,
        BosTokenId = 256, EosTokenId = [257], PadTokenId = 258,
    };

    /// <summary>Llama-style: 2 attention layers, 4/2 heads, SwiGLU, no residual vectors.</summary>
    public static ModelConfig Llama(bool tie = false, bool bias = false) => new()
    {
        ModelType = "llama",
        Architectures = ["LlamaForCausalLM"],
        VocabSize = Vocab, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, TieWordEmbeddings = tie, AttentionBias = bias,
        BosTokenId = 256, EosTokenId = [257], PadTokenId = 258,
    };

    /// <summary>Mamba-2: 2 SSD layers, d 32, expand 2, 4 heads × 16, state 8, 2 groups, conv 4, no FFN.</summary>
    public static ModelConfig Mamba2(bool tie = false)
    {
        var cfg = Presets.Get("mamba2");
        cfg.Preset = null;
        cfg.VocabSize = Vocab;
        cfg.HiddenSize = 32;
        cfg.NumHiddenLayers = 2;
        cfg.LayerTypes = LayerPattern.Uniform(2, MixerTypes.Ssd);
        cfg.MlpTypes = LayerPattern.Uniform(2, FfnTypes.None);
        cfg.TieWordEmbeddings = tie;
        cfg.Ssd = new SsdConfig { Expand = 2, HeadDim = 16, StateSize = 8, NGroups = 2, ConvKernel = 4, Gated = true, UseD = true, ChunkSize = 4 };
        cfg.Validate();
        return cfg;
    }

    /// <summary>A model whose norms, residual vectors, DMA A, SSD D and biases are all non-trivial, so a mis-mapped tensor changes the logits.</summary>
    public static CausalLM Build(ModelConfig cfg, long seed = 11)
    {
        var model = new CausalLM(cfg, seed);
        model.eval();
        using var _ = no_grad();
        using var g = new Generator((ulong)seed + 1);
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith(".A")) p.uniform_(-2.0, -0.2, g);
            else if (name.EndsWith("norm.weight") || name.EndsWith("_residual") || name.EndsWith(".D")) p.uniform_(0.5, 1.5, g);
            else if (name.EndsWith(".bias") || name.EndsWith("dt_bias")) p.uniform_(-0.3, 0.3, g);
            else if (name.Contains("embed") || name.Contains("router_gate") || name.Contains("dt_proj")) p.normal_(0, 0.5, g);
        }
        return model;
    }

    public static Tensor Ids(long seed = 5, long batch = 2, long t = 9)
    {
        using var g = new Generator((ulong)seed);
        return randint(0, 256, [batch, t], dtype: ScalarType.Int64, generator: g);
    }

    public static float MaxDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().max();
        return d.item<float>();
    }

    /// <summary>Logits of the model stored in <paramref name="dir"/> for <paramref name="ids"/>.</summary>
    public static Tensor LogitsOf(string dir, Tensor ids)
    {
        var (model, _) = ModelDirectory.Load(dir);
        using (model)
        using (no_grad()) return model.Forward(ids);
    }

    public static Tensor Logits(CausalLM model, Tensor ids)
    {
        using (no_grad()) return model.Forward(ids);
    }

    /// <summary>Saves <paramref name="model"/> as a HybridSharp model directory with the byte tokenizer.</summary>
    public static void SaveHybrid(CausalLM model, string dir) => ModelDirectory.Save(model, new ByteTokenizer(), dir);

    /// <summary>The model's tensors under its checkpoint names (views of the parameters).</summary>
    public static Dictionary<string, Tensor> State(CausalLM model) =>
        StateDictLoader.NamedStateTensors(model).ToDictionary(t => t.Name, t => t.Tensor.detach(), StringComparer.Ordinal);

    /// <summary>Writes an HF-style tokenizer.json (byte-level, equivalent to the byte tokenizer) and a plain tokenizer_config.json.</summary>
    public static void WriteHfTokenizer(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), global::HybridSharp.Checkpoints.HfInterop.HfTokenizerFiles.ByteTokenizerJson());
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["bos_token"] = "<|bos|>",
            ["eos_token"] = "<|eos|>",
            ["pad_token"] = "<|pad|>",
        }.ToJsonString());
    }

    /// <summary>Writes <paramref name="tensors"/> as two shards plus model.safetensors.index.json.</summary>
    public static void WriteSharded(string dir, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        var half = names.Count / 2;
        var shards = new[] { names.Take(half).ToList(), names.Skip(half).ToList() };
        var map = new JsonObject();
        for (int s = 0; s < 2; s++)
        {
            var file = $"model-{s + 1:D5}-of-00002.safetensors";
            SafetensorsFile.Save(Path.Combine(dir, file), shards[s].ToDictionary(n => n, n => tensors[n], StringComparer.Ordinal));
            foreach (var n in shards[s]) map[n] = file;
        }
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
            new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 0 }, ["weight_map"] = map }.ToJsonString());
    }
}
