using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HybridSharp.Config;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>
/// HF Mamba-2 (<c>model_type "mamba2"</c>, <c>Mamba2ForCausalLM</c>) ↔ a HybridSharp all-SSD stack without FFNs:
/// <c>backbone.embeddings</c> ↔ <c>model.embed_tokens</c>, <c>backbone.layers.{i}.norm</c> ↔
/// <c>model.layers.{i}.input_layernorm</c>, <c>backbone.layers.{i}.mixer.*</c> ↔ <c>model.layers.{i}.mamba.*</c>,
/// <c>backbone.norm_f</c> ↔ <c>model.norm</c>. Heads read B/C of group ⌊h/(H/G)⌋ (contiguous).
/// </summary>
internal static class HfMamba2Mapping
{
    private static readonly Regex HfLayer = new(@"^backbone\.layers\.(\d+)\.(norm|mixer)\.(.+)$", RegexOptions.CultureInvariant);
    private static readonly Regex HsLayer = new(@"^model\.layers\.(\d+)\.(input_layernorm|mamba)\.(.+)$", RegexOptions.CultureInvariant);

    /// <summary>HF name → HybridSharp name (unknown names pass through, so the strict loader reports them).</summary>
    public static string ToHybridSharp(string name)
    {
        switch (name)
        {
            case "backbone.embeddings.weight" or "backbone.embedding.weight": return "model.embed_tokens.weight";
            case "backbone.norm_f.weight": return "model.norm.weight";
        }
        var m = HfLayer.Match(name);
        if (!m.Success) return name;
        return m.Groups[2].Value == "norm"
            ? $"model.layers.{m.Groups[1].Value}.input_layernorm.{m.Groups[3].Value}"
            : $"model.layers.{m.Groups[1].Value}.mamba.{m.Groups[3].Value}";
    }

    /// <summary>HybridSharp name → HF name.</summary>
    public static string ToHf(string name)
    {
        switch (name)
        {
            case "model.embed_tokens.weight": return "backbone.embeddings.weight";
            case "model.norm.weight": return "backbone.norm_f.weight";
        }
        var m = HsLayer.Match(name);
        if (!m.Success) return name;
        return m.Groups[2].Value == "input_layernorm"
            ? $"backbone.layers.{m.Groups[1].Value}.norm.{m.Groups[3].Value}"
            : $"backbone.layers.{m.Groups[1].Value}.mixer.{m.Groups[3].Value}";
    }

    public static HfConversion Convert(JsonObject c, HfCheckpoint ckpt)
    {
        var plan = new HfWeightPlan();
        var notes = plan.Notes;
        foreach (var name in ckpt.Shapes.Keys) plan.Renames[name] = ToHybridSharp(name);

        int hidden = HfJson.Int(c, "hidden_size") ?? 4096;
        int layers = HfJson.Int(c, "num_hidden_layers") ?? 64;
        ckpt.RequireLayers(layers);
        string embedName = ckpt.Has("backbone.embeddings.weight") ? "backbone.embeddings.weight"
            : ckpt.Has("backbone.embedding.weight") ? "backbone.embedding.weight"
            : throw new InvalidDataException($"{ckpt.Directory}: no backbone.embeddings.weight: not a Mamba-2 checkpoint");
        var embed = ckpt.Shape(embedName)!;
        int vocab = HfJson.Int(c, "vocab_size") ?? (int)embed[0];
        if (embed[0] != vocab)
        {
            notes.Add($"vocab_size {vocab} in config.json differs from the embedding's {embed[0]} rows; the embedding size is used");
            vocab = (int)embed[0];
        }
        double expandD = HfJson.Double(c, "expand") ?? 2;
        if (expandD != Math.Floor(expandD) || expandD < 1) throw new InvalidDataException($"{ckpt.Directory}: expand {expandD} is not a positive integer");
        int expand = (int)expandD;
        int headDim = HfJson.Int(c, "head_dim") ?? 64;
        int numHeads = HfJson.Int(c, "num_heads") ?? expand * hidden / headDim;
        if (numHeads * headDim != expand * hidden)
            throw new InvalidDataException($"{ckpt.Directory}: num_heads ({numHeads}) × head_dim ({headDim}) must equal expand × hidden_size ({expand * hidden})");
        if (HfJson.Bool(c, "use_bias") == true)
            throw new InvalidDataException($"{ckpt.Directory}: use_bias = true (in_proj/out_proj biases) is not supported by HybridSharp's SSD layer");
        if (HfJson.Bool(c, "rms_norm") == false)
            throw new InvalidDataException($"{ckpt.Directory}: rms_norm = false is not supported (HybridSharp's SSD uses the gated RMSNorm)");
        var act = HfJson.Str(c, "hidden_act") ?? "silu";
        if (act is not ("silu" or "swish")) throw new InvalidDataException($"{ckpt.Directory}: hidden_act '{act}' is not supported by the SSD layer (silu)");

        double eps = HfJson.Double(c, "layer_norm_epsilon") ?? 1e-5;
        int nGroups = HfJson.Int(c, "n_groups") ?? 8;
        int chunk = HfJson.Int(c, "chunk_size") ?? 256;
        if (chunk > 64) notes.Add($"chunk_size {chunk} → 64 (fastest on CPU; the result does not depend on it)");
        double[] limit = [0.0, double.PositiveInfinity];
        if (c["time_step_limit"] is JsonArray lim && lim.Count == 2 && lim[0] is not null && lim[1] is not null)
            limit = [HfJson.ToDouble(lim[0]!, "time_step_limit"), HfJson.ToDouble(lim[1]!, "time_step_limit")];
        if (nGroups > 1 && nGroups < numHeads)
            notes.Add($"n_groups {nGroups}: heads use B/C of group ⌊h/(H/G)⌋ and the gated norm is per group (mamba_ssm semantics); " +
                      "transformers releases before the fix for #35943/#37533 computed this differently");

        var cfg = Presets.Get("mamba2");
        cfg.Preset = null;
        cfg.VocabSize = vocab;
        cfg.HiddenSize = hidden;
        cfg.NumHiddenLayers = layers;
        cfg.LayerTypes = LayerPattern.Uniform(layers, MixerTypes.Ssd);
        cfg.MlpTypes = LayerPattern.Uniform(layers, FfnTypes.None);
        cfg.RmsNormEps = eps;
        cfg.InitializerRange = HfJson.Double(c, "initializer_range") ?? 0.1;
        cfg.Ssd = new SsdConfig
        {
            Expand = expand,
            HeadDim = headDim,
            StateSize = HfJson.Int(c, "state_size") ?? 128,
            NGroups = nGroups,
            ConvKernel = HfJson.Int(c, "conv_kernel") ?? 4,
            UseConvBias = HfJson.Bool(c, "use_conv_bias") ?? true,
            Gated = true,
            UseD = true,
            UseBias = false,
            ChunkSize = Math.Min(chunk, 64),
            Rope = false,
            DtMin = HfJson.Double(c, "time_step_min") ?? 1e-3,
            DtMax = HfJson.Double(c, "time_step_max") ?? 1e-1,
            DtInitFloor = HfJson.Double(c, "time_step_floor") ?? 1e-4,
            TimeStepLimit = limit,
            NormEps = eps,
        };
        cfg.TieWordEmbeddings = plan.TieHead(ckpt, HfJson.Bool(c, "tie_word_embeddings") ?? false, embedName);
        cfg.BosTokenId = HfJson.Int(c, "bos_token_id");
        cfg.EosTokenId = HfJson.IntOrList(c, "eos_token_id");
        cfg.PadTokenId = HfJson.Int(c, "pad_token_id");
        return new HfConversion(cfg, plan, "Mamba2ForCausalLM");
    }
}
