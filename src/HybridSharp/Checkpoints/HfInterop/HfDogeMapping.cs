using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HybridSharp.Config;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>
/// Doge checkpoints (<c>model_type "doge"</c>) → HybridSharp. Handles the
/// upstream transformers layout (A / dt_proj per KV head, q_norm / k_norm) and the legacy layout of the published
/// SmallDoge checkpoints (A / dt_proj per query head, no QK-norm), detected from tensor shapes, and the legacy
/// small-doge tensor names (<c>word_embed</c>, <c>pre_layernorm</c>, <c>feed_forward.*</c>, …).
/// </summary>
internal static class HfDogeMapping
{
    private static readonly Regex LayerName = new(@"^model\.layers\.(\d+)\.(.+)$", RegexOptions.CultureInvariant);

    /// <summary>
    /// The current (HF / HybridSharp) name of a Doge tensor, or null when it is dropped (rotary buffers, the legacy
    /// router bias). <paramref name="legacy"/> is set when a legacy name was renamed.
    /// </summary>
    public static string? CurrentName(string name, ref bool legacy, ref bool droppedRouterBias)
    {
        if (name.Contains("rotary_emb", StringComparison.Ordinal)) return null;
        switch (name)
        {
            case "model.word_embed.weight": legacy = true; return "model.embed_tokens.weight";
            case "model.final_layernorm.weight": legacy = true; return "model.norm.weight";
        }
        var m = LayerName.Match(name);
        if (!m.Success) return name;
        string prefix = $"model.layers.{m.Groups[1].Value}.", rest = m.Groups[2].Value;
        string? mapped = rest switch
        {
            "pre_layernorm.weight" => "input_layernorm.weight",
            "pre_residual.weight" => "input_residual",
            "post_layernorm.weight" => "post_attention_layernorm.weight",
            "post_residual.weight" => "post_attention_residual",
            "input_residual.weight" => "input_residual",
            "post_attention_residual.weight" => "post_attention_residual",
            _ => null,
        };
        if (mapped is not null) { legacy = true; return prefix + mapped; }
        if (rest.StartsWith("feed_forward.", StringComparison.Ordinal))
        {
            legacy = true;
            if (rest == "feed_forward.router_gate.bias") { droppedRouterBias = true; return null; }
            return prefix + "mlp." + rest["feed_forward.".Length..];
        }
        return name;
    }

    public static HfConversion Convert(JsonObject c, HfCheckpoint ckpt)
    {
        var plan = new HfWeightPlan();
        var notes = plan.Notes;
        bool legacyNames = false, droppedRouterBias = false;
        var renamed = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (name, shape) in ckpt.Shapes)
        {
            var to = CurrentName(name, ref legacyNames, ref droppedRouterBias);
            if (to is null) continue;
            if (!renamed.TryAdd(to, shape))
                throw new InvalidDataException($"{ckpt.Directory}: tensors '{name}' and another one both map to '{to}'");
            plan.Renames[name] = to;
        }
        if (legacyNames) notes.Add("legacy small-doge tensor names (word_embed, pre_layernorm, feed_forward, …) were renamed to the current ones");
        if (droppedRouterBias) notes.Add("feed_forward.router_gate.bias was dropped (as small-doge's converter does)");
        long[]? Shape(string n) => renamed.TryGetValue(n, out var s) ? s : null;

        // Core sizes (DogeConfig defaults where absent).
        int hidden = HfJson.Int(c, "hidden_size") ?? 1024;
        int layers = HfJson.Int(c, "num_hidden_layers") ?? 32;
        int heads = HfJson.Int(c, "num_attention_heads") ?? 8;
        int kvHeads = HfJson.Int(c, "num_key_value_heads") ?? heads;
        ckpt.RequireLayers(layers);
        var embed = Shape("model.embed_tokens.weight")
            ?? throw new InvalidDataException($"{ckpt.Directory}: no model.embed_tokens.weight (or legacy model.word_embed.weight): not a Doge checkpoint");
        int vocab = HfJson.Int(c, "vocab_size") ?? (int)embed[0];
        if (embed[0] != vocab)
        {
            notes.Add($"vocab_size {vocab} in config.json differs from the embedding's {embed[0]} rows; the embedding size is used");
            vocab = (int)embed[0];
        }
        var q = Shape("model.layers.0.self_attn.q_proj.weight")
            ?? throw new InvalidDataException($"{ckpt.Directory}: no model.layers.0.self_attn.q_proj.weight: not a Doge checkpoint");
        int headDim = HfJson.Int(c, "head_dim") ?? (int)(q[0] / heads);

        // DMA layout and QK-norm, per layer (must agree).
        string? layout = null;
        bool? qkNorm = null;
        for (int i = 0; i < layers; i++)
        {
            var a = Shape($"model.layers.{i}.self_attn.A")
                ?? throw new InvalidDataException($"{ckpt.Directory}: layer {i} has no self_attn.A: not a Dynamic Mask Attention (Doge) layer");
            string l = a.Length == 1 && a[0] == kvHeads ? DmaConfig.Upstream
                : a.Length == 1 && a[0] == heads ? DmaConfig.Legacy
                : throw new InvalidDataException(
                    $"{ckpt.Directory}: layer {i} self_attn.A has shape [{string.Join(", ", a)}]; expected [{kvHeads}] (num_key_value_heads, upstream layout) or [{heads}] (num_attention_heads, legacy layout)");
            bool qk = renamed.ContainsKey($"model.layers.{i}.self_attn.q_norm.weight");
            if (layout is not null && (layout != l || qkNorm != qk))
                throw new InvalidDataException($"{ckpt.Directory}: layer {i} uses a different DMA layout or QK-norm than layer 0; mixed layouts are not supported");
            layout = l;
            qkNorm = qk;
        }
        if (layout == DmaConfig.Legacy)
            notes.Add($"legacy DMA layout: A and dt_proj are sized by the {heads} query heads (not the {kvHeads} KV heads); kept as dma.layout \"legacy\"");
        if (qkNorm == false) notes.Add("no q_norm/k_norm in the checkpoint: imported without QK-norm (as the published SmallDoge checkpoints were trained)");

        // FFN per layer, from the tensors.
        var mlpTypes = new List<string>();
        for (int i = 0; i < layers; i++)
        {
            string p = $"model.layers.{i}.mlp.";
            mlpTypes.Add(renamed.ContainsKey(p + "router_gate.weight") ? FfnTypes.CdMoe
                : renamed.ContainsKey(p + "queries.weight") ? FfnTypes.CdMoeMultiHead
                : renamed.ContainsKey(p + "gate_proj.weight") ? FfnTypes.Mlp
                : FfnTypes.None);
        }
        MoeConfig? moe = null;
        int moeLayer = mlpTypes.FindIndex(FfnTypes.IsRouted);
        if (moeLayer >= 0)
        {
            var down = Shape($"model.layers.{moeLayer}.mlp.down_embed.weight")
                ?? throw new InvalidDataException($"{ckpt.Directory}: layer {moeLayer} has a router but no mlp.down_embed.weight");
            int experts = (int)down[0];
            int? configured = HfJson.Int(c, "num_experts") ?? HfJson.Int(c, "num_cdmoe_experts") ?? HfJson.Int(c, "num_cdmmoe_experts");
            if (configured is { } e && e != experts)
                notes.Add($"config.json names {e} experts but the weights hold {experts}; the weights' count is used");
            bool? viewKey = HfJson.Bool(c, "cdmoe_upstream_router_view");
            moe = new MoeConfig
            {
                NumExperts = experts,
                NumExpertsPerTok = HfJson.Int(c, "num_experts_per_tok") ?? 64,
                NormTopkProb = HfJson.Bool(c, "norm_topk_prob") ?? false,
                RouterAuxLossCoef = HfJson.Double(c, "router_aux_loss_coef") ?? 0.001,
                CdmoeUpstreamRouterView = viewKey ?? true,
            };
            if (mlpTypes.Contains(FfnTypes.CdMoe) && viewKey is null)
                notes.Add("CDMoE routing reproduces transformers' cross-token router view (moe.cdmoe_upstream_router_view = true), " +
                          "so outputs match HF DogeForCausalLM; set it to false for per-token routing");
            int mh = mlpTypes.IndexOf(FfnTypes.CdMoeMultiHead);
            if (mh >= 0)
            {
                var keys = Shape($"model.layers.{mh}.mlp.keys")
                    ?? throw new InvalidDataException($"{ckpt.Directory}: layer {mh} has mlp.queries but no mlp.keys");
                if (keys.Length != 4) throw new InvalidDataException($"{ckpt.Directory}: layer {mh} mlp.keys should be [heads, Kk, 2, R/2]");
                moe.NumCdmoeHeads = (int)keys[0];
                moe.ExpertRetrievalSize = (int)keys[3] * 2;
                moe.NumCdmoeExpertsPerHead = HfJson.Int(c, "num_cdmoe_experts_per_head") ?? 8;
            }
        }

        // Residual vectors, biases.
        bool residuals = renamed.ContainsKey("model.layers.0.input_residual");
        bool attentionBias = renamed.ContainsKey("model.layers.0.self_attn.q_proj.bias");
        bool mlpBias = renamed.ContainsKey("model.layers.0.mlp.gate_proj.bias");
        if (HfJson.Double(c, "dynamic_mask_ratio") is > 0 and var ratio)
            notes.Add($"dynamic_mask_ratio {ratio} (ratio masking of old Doge) is not supported; keep_window_size masking is used instead");
        if (HfJson.Int(c, "sliding_window") is { } sw)
            notes.Add($"sliding_window {sw} is ignored: HybridSharp's DMA has no sliding window (keep_window_size applies)");

        var (theta, scaling) = HfJson.Rope(c);
        bool tieConfigured = HfJson.Bool(c, "tie_word_embeddings") ?? false;
        bool tie = plan.TieHead(ckpt, tieConfigured, SourceNameOf(plan, "model.embed_tokens.weight") ?? "model.embed_tokens.weight");

        var cfg = new ModelConfig
        {
            ModelType = "doge",
            Architectures = ["DogeForCausalLM"],
            VocabSize = vocab,
            HiddenSize = hidden,
            IntermediateSize = HfJson.Int(c, "intermediate_size") ?? 2048,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDimOverride = headDim * heads != hidden || HfJson.Has(c, "head_dim") ? headDim : null,
            HiddenAct = HfJson.Str(c, "hidden_act") ?? "silu",
            MaxPositionEmbeddings = HfJson.Int(c, "max_position_embeddings") ?? 2048,
            RmsNormEps = HfJson.Double(c, "rms_norm_eps") ?? 1e-6,
            RopeTheta = theta,
            RopeScaling = scaling,
            AttentionBias = attentionBias,
            MlpBias = mlpBias,
            TieWordEmbeddings = tie,
            InitializerRange = HfJson.Double(c, "initializer_range") ?? 0.02,
            UseResidualVectors = residuals,
            LayerTypes = LayerPattern.Uniform(layers, MixerTypes.Dma),
            MlpTypes = mlpTypes,
            Dma = new DmaConfig { KeepWindowSize = HfJson.Int(c, "keep_window_size") ?? DmaConfig.DefaultKeepWindowSize, Layout = layout!, QkNorm = qkNorm!.Value },
            Moe = moe,
            BosTokenId = HfJson.Int(c, "bos_token_id"),
            EosTokenId = HfJson.IntOrList(c, "eos_token_id"),
            PadTokenId = HfJson.Int(c, "pad_token_id"),
        };
        return new HfConversion(cfg, plan, "DogeForCausalLM", layout, legacyNames);
    }

    /// <summary>The source name that was renamed to <paramref name="target"/>, if any.</summary>
    internal static string? SourceNameOf(HfWeightPlan plan, string target) =>
        plan.Renames.FirstOrDefault(kv => kv.Value == target).Key;
}
