using System.Text.Json.Nodes;
using HybridSharp.Config;
using static TorchSharp.torch;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>
/// Llama-layout transformers (<c>llama</c>, <c>mistral</c>, <c>qwen2</c>) → an all-attention HybridSharp stack with the
/// same tensor names ("Transformer … identical tensor names and RoPE convention").
/// Qwen2's q/k/v biases become <c>attention_bias</c> with a zero <c>o_proj</c> bias (exact).
/// </summary>
internal static class HfLlamaMapping
{
    public static readonly string[] ModelTypes = ["llama", "mistral", "qwen2"];

    public static HfConversion Convert(string modelType, JsonObject c, HfCheckpoint ckpt)
    {
        var plan = new HfWeightPlan();
        var notes = plan.Notes;
        foreach (var name in ckpt.Shapes.Keys)
            if (!name.Contains("rotary_emb", StringComparison.Ordinal)) plan.Renames[name] = name;

        int hidden = HfJson.Int(c, "hidden_size") ?? 4096;
        int layers = HfJson.Int(c, "num_hidden_layers") ?? 32;
        int heads = HfJson.Int(c, "num_attention_heads") ?? 32;
        int kvHeads = HfJson.Int(c, "num_key_value_heads") ?? heads;
        ckpt.RequireLayers(layers);
        var embed = ckpt.Shape("model.embed_tokens.weight")
            ?? throw new InvalidDataException($"{ckpt.Directory}: no model.embed_tokens.weight: not a {modelType} checkpoint");
        int vocab = HfJson.Int(c, "vocab_size") ?? (int)embed[0];
        if (embed[0] != vocab)
        {
            notes.Add($"vocab_size {vocab} in config.json differs from the embedding's {embed[0]} rows; the embedding size is used");
            vocab = (int)embed[0];
        }
        if (ckpt.Has("model.layers.0.self_attn.q_norm.weight"))
            throw new InvalidDataException($"{ckpt.Directory}: the attention layers have q_norm/k_norm, which the {modelType} layout does not; this checkpoint is not supported");
        var q = ckpt.Shape("model.layers.0.self_attn.q_proj.weight")
            ?? throw new InvalidDataException($"{ckpt.Directory}: no model.layers.0.self_attn.q_proj.weight: not a {modelType} checkpoint");
        int headDim = HfJson.Int(c, "head_dim") ?? (int)(q[0] / heads);

        bool qkvBias = ckpt.Has("model.layers.0.self_attn.q_proj.bias");
        bool oBias = ckpt.Has("model.layers.0.self_attn.o_proj.bias");
        if (qkvBias && !oBias)
        {
            for (int i = 0; i < layers; i++) plan.Synthesized[$"model.layers.{i}.self_attn.o_proj.bias"] = () => zeros(hidden);
            notes.Add("q/k/v projection biases imported with a zero o_proj bias (attention_bias applies to all four projections in HybridSharp)");
        }
        bool mlpBias = ckpt.Has("model.layers.0.mlp.gate_proj.bias");

        int? window = modelType switch
        {
            "mistral" => HfJson.Int(c, "sliding_window"),
            "qwen2" when HfJson.Bool(c, "use_sliding_window") == true => HfJson.Int(c, "sliding_window"),
            _ => null,
        };
        if (window is { } w)
            notes.Add($"sliding_window {w} is ignored: HybridSharp attention is full causal, so outputs match only up to {w} tokens");

        var (theta, scaling) = HfJson.Rope(c);
        bool tie = plan.TieHead(ckpt, HfJson.Bool(c, "tie_word_embeddings") ?? false, "model.embed_tokens.weight");

        var cfg = new ModelConfig
        {
            ModelType = "llama",
            Architectures = ["LlamaForCausalLM"],
            VocabSize = vocab,
            HiddenSize = hidden,
            IntermediateSize = HfJson.Int(c, "intermediate_size") ?? 11008,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDimOverride = headDim * heads != hidden || HfJson.Has(c, "head_dim") ? headDim : null,
            HiddenAct = HfJson.Str(c, "hidden_act") ?? "silu",
            MaxPositionEmbeddings = HfJson.Int(c, "max_position_embeddings") ?? 2048,
            RmsNormEps = HfJson.Double(c, "rms_norm_eps") ?? 1e-6,
            RopeTheta = theta,
            RopeScaling = scaling,
            AttentionBias = qkvBias || oBias,
            MlpBias = mlpBias,
            TieWordEmbeddings = tie,
            InitializerRange = HfJson.Double(c, "initializer_range") ?? 0.02,
            BosTokenId = HfJson.Int(c, "bos_token_id"),
            EosTokenId = HfJson.IntOrList(c, "eos_token_id"),
            PadTokenId = HfJson.Int(c, "pad_token_id"),
        };
        return new HfConversion(cfg, plan, "LlamaForCausalLM");
    }
}
