using System.Text.Json.Nodes;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>
/// The tensor names and shapes transformers' <c>DogeForCausalLM</c>, <c>LlamaForCausalLM</c> and <c>Mamba2ForCausalLM</c>
/// create for a given <c>config.json</c> (their module trees, written down independently of HybridSharp's modules).
/// The exporter checks its output against this, so a renamed HybridSharp module cannot silently break HF loading.
/// </summary>
internal static class HfLayouts
{
    public static Dictionary<string, long[]> Expected(JsonObject c)
    {
        var type = HfJson.Str(c, "model_type");
        return type switch
        {
            "doge" => Doge(c),
            "llama" => Llama(c),
            "mamba2" => Mamba2(c),
            _ => throw new ArgumentException($"no HF layout for model_type '{type}'"),
        };
    }

    private static int Req(JsonObject c, string key) =>
        HfJson.Int(c, key) ?? throw new InvalidOperationException($"exported config.json lacks '{key}'");

    private static Dictionary<string, long[]> Doge(JsonObject c)
    {
        long d = Req(c, "hidden_size"), v = Req(c, "vocab_size"), inter = Req(c, "intermediate_size");
        long h = Req(c, "num_attention_heads"), kv = HfJson.Int(c, "num_key_value_heads") ?? h;
        long p = HfJson.Int(c, "head_dim") ?? d / h;
        bool attBias = HfJson.Bool(c, "attention_bias") ?? false, mlpBias = HfJson.Bool(c, "mlp_bias") ?? false;
        bool moe = HfJson.Bool(c, "is_moe") ?? false;
        long e = HfJson.Int(c, "num_experts") ?? 16384, keys = (long)Math.Floor(Math.Sqrt(e));
        var r = new Dictionary<string, long[]>(StringComparer.Ordinal) { ["model.embed_tokens.weight"] = [v, d], ["model.norm.weight"] = [d] };
        for (int i = 0; i < Req(c, "num_hidden_layers"); i++)
        {
            string l = $"model.layers.{i}.";
            r[l + "input_layernorm.weight"] = [d];
            r[l + "input_residual"] = [d];
            r[l + "post_attention_layernorm.weight"] = [d];
            r[l + "post_attention_residual"] = [d];
            Linear(r, l + "self_attn.q_proj", h * p, d, attBias);
            Linear(r, l + "self_attn.k_proj", kv * p, d, attBias);
            Linear(r, l + "self_attn.v_proj", kv * p, d, attBias);
            Linear(r, l + "self_attn.dt_proj", kv, kv * p, attBias);
            Linear(r, l + "self_attn.o_proj", d, h * p, attBias);
            r[l + "self_attn.A"] = [kv];
            r[l + "self_attn.q_norm.weight"] = [p];
            r[l + "self_attn.k_norm.weight"] = [p];
            Linear(r, l + "mlp.gate_proj", inter, d, mlpBias);
            Linear(r, l + "mlp.up_proj", inter, d, mlpBias);
            Linear(r, l + "mlp.down_proj", d, inter, mlpBias);
            if (moe)
            {
                Linear(r, l + "mlp.router_gate", 2 * keys, d, false);
                r[l + "mlp.down_embed.weight"] = [e, d];
                r[l + "mlp.up_embed.weight"] = [e, d];
            }
        }
        if (HfJson.Bool(c, "tie_word_embeddings") != true) r["lm_head.weight"] = [v, d];
        return r;
    }

    private static Dictionary<string, long[]> Llama(JsonObject c)
    {
        long d = Req(c, "hidden_size"), v = Req(c, "vocab_size"), inter = Req(c, "intermediate_size");
        long h = Req(c, "num_attention_heads"), kv = HfJson.Int(c, "num_key_value_heads") ?? h;
        long p = HfJson.Int(c, "head_dim") ?? d / h;
        bool attBias = HfJson.Bool(c, "attention_bias") ?? false, mlpBias = HfJson.Bool(c, "mlp_bias") ?? false;
        var r = new Dictionary<string, long[]>(StringComparer.Ordinal) { ["model.embed_tokens.weight"] = [v, d], ["model.norm.weight"] = [d] };
        for (int i = 0; i < Req(c, "num_hidden_layers"); i++)
        {
            string l = $"model.layers.{i}.";
            r[l + "input_layernorm.weight"] = [d];
            r[l + "post_attention_layernorm.weight"] = [d];
            Linear(r, l + "self_attn.q_proj", h * p, d, attBias);
            Linear(r, l + "self_attn.k_proj", kv * p, d, attBias);
            Linear(r, l + "self_attn.v_proj", kv * p, d, attBias);
            Linear(r, l + "self_attn.o_proj", d, h * p, attBias);
            Linear(r, l + "mlp.gate_proj", inter, d, mlpBias);
            Linear(r, l + "mlp.up_proj", inter, d, mlpBias);
            Linear(r, l + "mlp.down_proj", d, inter, mlpBias);
        }
        if (HfJson.Bool(c, "tie_word_embeddings") != true) r["lm_head.weight"] = [v, d];
        return r;
    }

    private static Dictionary<string, long[]> Mamba2(JsonObject c)
    {
        long d = Req(c, "hidden_size"), v = Req(c, "vocab_size");
        long dIn = Req(c, "expand") * d, heads = Req(c, "num_heads"), n = Req(c, "state_size"), g = Req(c, "n_groups"), k = Req(c, "conv_kernel");
        bool bias = HfJson.Bool(c, "use_bias") ?? false, convBias = HfJson.Bool(c, "use_conv_bias") ?? true;
        long conv = dIn + 2 * g * n;
        var r = new Dictionary<string, long[]>(StringComparer.Ordinal) { ["backbone.embeddings.weight"] = [v, d], ["backbone.norm_f.weight"] = [d] };
        for (int i = 0; i < Req(c, "num_hidden_layers"); i++)
        {
            string l = $"backbone.layers.{i}.";
            r[l + "norm.weight"] = [d];
            Linear(r, l + "mixer.in_proj", dIn + conv + heads, d, bias);
            r[l + "mixer.conv1d.weight"] = [conv, 1, k];
            if (convBias) r[l + "mixer.conv1d.bias"] = [conv];
            r[l + "mixer.dt_bias"] = [heads];
            r[l + "mixer.A_log"] = [heads];
            r[l + "mixer.D"] = [heads];
            r[l + "mixer.norm.weight"] = [dIn];
            Linear(r, l + "mixer.out_proj", d, dIn, bias);
        }
        if (HfJson.Bool(c, "tie_word_embeddings") != true) r["lm_head.weight"] = [v, d];
        return r;
    }

    private static void Linear(Dictionary<string, long[]> r, string prefix, long outF, long inF, bool bias)
    {
        r[prefix + ".weight"] = [outF, inF];
        if (bias) r[prefix + ".bias"] = [outF];
    }

    /// <summary>Differences between <paramref name="actual"/> and <paramref name="expected"/> (empty when they agree).</summary>
    public static List<string> Diff(IReadOnlyDictionary<string, long[]> expected, IReadOnlyDictionary<string, long[]> actual)
    {
        var problems = new List<string>();
        foreach (var (name, shape) in expected)
        {
            if (!actual.TryGetValue(name, out var got)) problems.Add($"missing {name}");
            else if (!got.SequenceEqual(shape)) problems.Add($"{name} is [{string.Join(", ", got)}], HF expects [{string.Join(", ", shape)}]");
        }
        foreach (var name in actual.Keys)
            if (!expected.ContainsKey(name)) problems.Add($"unexpected {name}");
        return problems;
    }
}
