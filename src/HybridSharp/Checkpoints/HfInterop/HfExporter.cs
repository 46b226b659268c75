using HybridSharp.IO;
using System.Text.Json.Nodes;
using HybridSharp.Config;
using HybridSharp.IO.Safetensors;
using HybridSharp.Models;
using HybridSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>Options of <see cref="HfExporter.Export"/>.</summary>
public sealed record HfExportOptions
{
    /// <summary>Weight dtype: "float32" (default) or "bfloat16" (aliases fp32/f32, bf16).</summary>
    public string Dtype { get; init; } = "float32";

    /// <summary>Replace an existing model directory at the target.</summary>
    public bool Overwrite { get; init; }
}

/// <summary>What <see cref="HfExporter.Export"/> wrote.</summary>
/// <param name="TargetDir">The HF model directory.</param>
/// <param name="ModelType">"doge", "llama" or "mamba2".</param>
/// <param name="Architecture">DogeForCausalLM, LlamaForCausalLM or Mamba2ForCausalLM.</param>
/// <param name="Dtype">"float32" or "bfloat16".</param>
/// <param name="TensorCount">Tensors in model.safetensors.</param>
/// <param name="Notes">Things an HF user should know (tokenizer, routing semantics, synthesised tensors).</param>
public sealed record HfExportResult(string TargetDir, string ModelType, string Architecture, string Dtype, int TensorCount, IReadOnlyList<string> Notes);

/// <summary>
/// Writes a HybridSharp model as a Hugging Face transformers directory: Doge stacks (every layer DMA with SwiGLU or
/// product-key CDMoE) as <c>DogeForCausalLM</c>, plain transformers (every layer attention,
/// no residual vectors) as <c>LlamaForCausalLM</c>, and pure Mamba-2 stacks as <c>Mamba2ForCausalLM</c>.
/// Other stacks have no matching HF architecture and are rejected.
/// </summary>
public static class HfExporter
{
    /// <summary>Known export formats.</summary>
    public static IReadOnlyList<string> Formats { get; } = ["hf"];

    /// <summary>Supported weight dtypes (canonical names).</summary>
    public static IReadOnlyList<string> Dtypes { get; } = ["float32", "bfloat16"];

    /// <summary>Exports the model in <paramref name="modelDir"/> to <paramref name="targetDir"/>.</summary>
    /// <exception cref="ArgumentException">Unknown format or dtype, a stack HF cannot represent exactly, or the target exists without overwrite.</exception>
    public static HfExportResult Export(string modelDir, string targetDir, string format = "hf", HfExportOptions? options = null)
    {
        options ??= new HfExportOptions();
        if (!Formats.Contains(format)) throw new ArgumentException($"unknown export format '{format}' (known: {string.Join(", ", Formats)})");
        var dtype = NormalizeDtype(options.Dtype);
        if (!Directory.Exists(modelDir)) throw new DirectoryNotFoundException($"model directory not found: {modelDir}");
        HfStaging.CheckTarget(modelDir, targetDir, options.Overwrite);
        // Check the config before loading any weights.
        var cfg = ModelConfig.Load(Path.Combine(modelDir, ModelDirectory.ConfigFile));
        var modelType = TargetModelType(cfg);

        var notes = new List<string>();
        if (modelType == "mamba2" && cfg.Ssd!.NormEps != cfg.RmsNormEps)
            notes.Add($"HF Mamba-2 uses one epsilon (layer_norm_epsilon = {cfg.RmsNormEps}) for all norms; this model's gated norm used " +
                      $"ssm.norm_eps = {cfg.Ssd.NormEps}, so HF outputs differ slightly");
        var loaded = ModelDirectory.Load(modelDir);
        using var model = loaded.Model;
        var tokenizer = loaded.Tokenizer;
        var staging = HfStaging.Create(targetDir);
        try
        {
            JsonObject hfConfig;
            Dictionary<string, long[]> written;
            using (var scope = NewDisposeScope())
            {
                var state = MixtureOfExperts.ToCheckpointNames(model, StateDictLoader.Export(model));
                Dictionary<string, Tensor> tensors = modelType switch
                {
                    "doge" => DogeTensors(model.Config, state, notes),
                    "mamba2" => state.ToDictionary(kv => HfMamba2Mapping.ToHf(kv.Key), kv => kv.Value, StringComparer.Ordinal),
                    _ => state,
                };
                var st = dtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
                tensors = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.dtype == st ? kv.Value : kv.Value.to_type(st), StringComparer.Ordinal);
                written = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
                SafetensorsFile.Save(Path.Combine(staging, SafetensorsFile.SingleFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
                hfConfig = modelType switch
                {
                    "doge" => DogeConfig(model.Config, dtype),
                    "llama" => LlamaConfig(model.Config, dtype),
                    _ => Mamba2Config(model.Config, dtype),
                };
            }

            var problems = HfLayouts.Diff(HfLayouts.Expected(hfConfig), written);
            if (problems.Count > 0)
                throw new InvalidOperationException($"internal error: the exported tensors do not match HF {modelType}: {string.Join("; ", problems.Take(5))}");

            AtomicFile.WriteAllText(Path.Combine(staging, ModelDirectory.ConfigFile), hfConfig.ToJsonString(HfJson.Indented) + "\n");
            var generation = Path.Combine(modelDir, GenerationConfig.FileName);
            if (File.Exists(generation)) File.Copy(generation, Path.Combine(staging, GenerationConfig.FileName), overwrite: true);
            else
            {
                var gen = new JsonObject();
                HfJson.WriteTokenIds(gen, cfg);
                AtomicFile.WriteAllText(Path.Combine(staging, GenerationConfig.FileName), gen.ToJsonString(HfJson.Indented) + "\n");
            }
            HfTokenizerFiles.Write(tokenizer, staging, cfg.MaxPositionEmbeddings, notes);
            HfStaging.Publish(staging, targetDir);
            return new HfExportResult(Path.GetFullPath(targetDir), modelType, hfConfig["architectures"]![0]!.GetValue<string>(), dtype, written.Count, notes);
        }
        finally
        {
            HfStaging.Discard(staging);
        }
    }

    /// <summary>"float32" or "bfloat16" for the accepted spellings; <see cref="ArgumentException"/> otherwise.</summary>
    public static string NormalizeDtype(string dtype) => dtype.ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => "float32",
        "bfloat16" or "bf16" => "bfloat16",
        _ => throw new ArgumentException($"unknown dtype '{dtype}' (known: float32, bfloat16)"),
    };

    /// <summary>
    /// The HF <c>model_type</c> a config exports as ("doge", "llama", "mamba2"), or an <see cref="ArgumentException"/>
    /// explaining why HF has no architecture for it.
    /// </summary>
    public static string TargetModelType(ModelConfig cfg)
    {
        int n = cfg.NumHiddenLayers;
        var layers = Enumerable.Range(0, n).Select(cfg.LayerType).ToList();
        var ffns = Enumerable.Range(0, n).Select(cfg.MlpType).ToList();
        var distinctFfn = ffns.Distinct().ToList();
        string Stack() => $"layers {LayerPattern.Describe(layers)}, FFN {LayerPattern.Describe(ffns)}{(cfg.UseResidualVectors ? ", residual vectors" : "")}";

        if (layers.All(t => t == MixerTypes.Dma))
        {
            if (distinctFfn.Count != 1 || distinctFfn[0] is not (FfnTypes.Mlp or FfnTypes.CdMoe))
                throw new ArgumentException(
                    $"HF DogeForCausalLM needs the same FFN in every layer, 'mlp' or 'cdmoe' (its is_moe flag is global); this model has {Stack()}");
            var dma = cfg.Dma!;   // resolved with the config
            if (!dma.QkNorm)
                throw new ArgumentException(
                    "the DMA layers have no QK-norm, but HF transformers' DogeAttention always applies q_norm/k_norm, so DogeForCausalLM " +
                    "would compute different outputs; only models built with dma.qk_norm = true export to HF Doge");
            return "doge";
        }
        if (layers.All(t => t == MixerTypes.Attention))
        {
            if (cfg.UseResidualVectors || distinctFfn is not [FfnTypes.Mlp])
                throw new ArgumentException(
                    $"HF LlamaForCausalLM needs plain pre-norm blocks (attention + 'mlp', no residual vectors); this model has {Stack()}");
            if (cfg.LognScaling)
                throw new ArgumentException(
                    "the model uses OTCE's logn_scaling (Q scaled by max(1, ln(64 + i)/ln 4096) beyond position 4031), which " +
                    "HF LlamaForCausalLM does not have; turn it off in config.json first if the model is only used below 4032 tokens");
            return "llama";
        }
        if (layers.All(t => t == MixerTypes.Ssd))
        {
            var s = cfg.Ssd!;
            if (cfg.UseResidualVectors || distinctFfn is not [FfnTypes.None])
                throw new ArgumentException($"HF Mamba2ForCausalLM has SSD mixers only (no FFN, no residual vectors); this model has {Stack()}");
            if (s.ConvKernel == 0 || !s.Gated || !s.UseD || s.Rope || s.UseBias)
                throw new ArgumentException(
                    "HF Mamba2ForCausalLM needs the full Mamba-2 mixer (conv_kernel > 0, gated, use_d, no RoPE, no in_proj bias); " +
                    "this model uses the stripped Cheems/TransXSSM SSD");
            return "mamba2";
        }
        throw new ArgumentException(
            $"HF transformers has no architecture matching this model ({Stack()}); export supports Doge (every layer 'dma'), " +
            "Llama (every layer 'attention', no residual vectors) and Mamba-2 (every layer 'ssd', no FFN)");
    }

    /// <summary>Doge tensors: legacy DMA rows collapsed to the upstream per-KV-head layout when exact; residual vectors added when absent.</summary>
    private static Dictionary<string, Tensor> DogeTensors(ModelConfig cfg, Dictionary<string, Tensor> state, List<string> notes)
    {
        var result = new Dictionary<string, Tensor>(state, StringComparer.Ordinal);
        int h = cfg.NumAttentionHeads, kv = cfg.NumKvHeads, g = h / kv;
        var dma = cfg.Dma!;   // resolved with the config
        if (dma.IsLegacy && g > 1)
        {
            for (int i = 0; i < cfg.NumHiddenLayers; i++)
            {
                string p = $"model.layers.{i}.self_attn.";
                foreach (var name in new[] { p + "A", p + "dt_proj.weight", p + "dt_proj.bias" })
                {
                    if (!result.TryGetValue(name, out var t)) continue;
                    var grouped = t.reshape([kv, g, .. t.shape[1..]]);
                    var first = grouped.narrow(1, 0, 1);
                    if (!grouped.eq(first).all().item<bool>())
                        throw new ArgumentException(
                            $"the model uses the legacy DMA layout (A/dt_proj per query head) with {h} query heads over {kv} KV heads and the " +
                            $"query heads of a group have different {name[p.Length..]} rows (layer {i}); HF Doge keeps one mask head per KV head, " +
                            "so this model cannot be exported exactly");
                    result[name] = first.squeeze(1).contiguous();
                }
            }
            notes.Add("legacy DMA rows (per query head) were identical within each KV group and were collapsed to the upstream per-KV-head layout");
        }
        if (!cfg.UseResidualVectors)
        {
            for (int i = 0; i < cfg.NumHiddenLayers; i++)
            {
                result[$"model.layers.{i}.input_residual"] = ones(cfg.HiddenSize);
                result[$"model.layers.{i}.post_attention_residual"] = ones(cfg.HiddenSize);
            }
            notes.Add("the model has no residual vectors; HF Doge requires them, so all-ones vectors were written (exact)");
        }
        if (cfg.Moe is { CdmoeUpstreamRouterView: false } && Enumerable.Range(0, cfg.NumHiddenLayers).Any(i => cfg.MlpType(i) == FfnTypes.CdMoe))
            notes.Add("HF transformers' DogeCDMoE routes with its cross-token router view; this model uses per-token " +
                      "routing (cdmoe_upstream_router_view = false), so HF outputs differ from HybridSharp's for multi-token inputs " +
                      "(one-token decode steps agree); HybridSharp re-imports it with per-token routing");
        return result;
    }

    private static JsonObject Common(ModelConfig cfg, string architecture, string modelType) => new()
    {
        ["architectures"] = new JsonArray(architecture),
        ["model_type"] = modelType,
        ["vocab_size"] = cfg.VocabSize,
        ["hidden_size"] = cfg.HiddenSize,
    };

    /// <summary>DogeConfig (transformers ≥ 4.56 field set).</summary>
    private static JsonObject DogeConfig(ModelConfig cfg, string dtype)
    {
        var o = Common(cfg, "DogeForCausalLM", "doge");
        var dma = cfg.Dma!;   // resolved with the config
        bool moe = Enumerable.Range(0, cfg.NumHiddenLayers).Any(i => cfg.MlpType(i) == FfnTypes.CdMoe);
        o["intermediate_size"] = cfg.IntermediateSize;
        o["num_hidden_layers"] = cfg.NumHiddenLayers;
        o["hidden_dropout"] = HfJson.Float(0);
        o["hidden_act"] = cfg.HiddenAct;
        o["initializer_range"] = HfJson.Float(cfg.InitializerRange);
        o["rms_norm_eps"] = HfJson.Float(cfg.RmsNormEps);
        o["use_cache"] = true;
        o["tie_word_embeddings"] = cfg.TieWordEmbeddings;
        o["max_position_embeddings"] = cfg.MaxPositionEmbeddings;
        HfJson.WriteRope(o, cfg);
        o["num_attention_heads"] = cfg.NumAttentionHeads;
        o["num_key_value_heads"] = cfg.NumKvHeads;
        o["head_dim"] = cfg.HeadDim;
        o["attention_bias"] = cfg.AttentionBias;
        o["attention_dropout"] = HfJson.Float(0);
        o["mlp_bias"] = cfg.MlpBias;
        o["sliding_window"] = null;
        o["keep_window_size"] = dma.KeepWindowSize;
        o["is_moe"] = moe;
        o["num_experts"] = moe ? cfg.Moe!.NumExperts : 16384;
        o["num_experts_per_tok"] = moe ? cfg.Moe!.NumExpertsPerTok : 64;
        o["norm_topk_prob"] = moe && cfg.Moe!.NormTopkProb;
        o["output_router_logits"] = false;
        o["router_aux_loss_coef"] = HfJson.Float(cfg.Moe?.RouterAuxLossCoef ?? 0.001);
        if (moe) o["cdmoe_upstream_router_view"] = cfg.Moe!.CdmoeUpstreamRouterView; // HybridSharp key, ignored by transformers
        HfJson.WriteTokenIds(o, cfg);
        o["torch_dtype"] = dtype;
        return o;
    }

    /// <summary>LlamaConfig fields.</summary>
    private static JsonObject LlamaConfig(ModelConfig cfg, string dtype)
    {
        var o = Common(cfg, "LlamaForCausalLM", "llama");
        o["intermediate_size"] = cfg.IntermediateSize;
        o["num_hidden_layers"] = cfg.NumHiddenLayers;
        o["num_attention_heads"] = cfg.NumAttentionHeads;
        o["num_key_value_heads"] = cfg.NumKvHeads;
        o["head_dim"] = cfg.HeadDim;
        o["hidden_act"] = cfg.HiddenAct;
        o["max_position_embeddings"] = cfg.MaxPositionEmbeddings;
        o["initializer_range"] = HfJson.Float(cfg.InitializerRange);
        o["rms_norm_eps"] = HfJson.Float(cfg.RmsNormEps);
        o["pretraining_tp"] = 1;
        o["use_cache"] = true;
        HfJson.WriteRope(o, cfg);
        o["attention_bias"] = cfg.AttentionBias;
        o["attention_dropout"] = HfJson.Float(0);
        o["mlp_bias"] = cfg.MlpBias;
        o["tie_word_embeddings"] = cfg.TieWordEmbeddings;
        HfJson.WriteTokenIds(o, cfg);
        o["torch_dtype"] = dtype;
        return o;
    }

    /// <summary>Mamba2Config fields.</summary>
    private static JsonObject Mamba2Config(ModelConfig cfg, string dtype)
    {
        var s = cfg.Ssd!;
        var o = Common(cfg, "Mamba2ForCausalLM", "mamba2");
        o["num_hidden_layers"] = cfg.NumHiddenLayers;
        o["num_heads"] = s.NumHeads(cfg.HiddenSize);
        o["head_dim"] = s.HeadDim;
        o["state_size"] = s.StateSize;
        o["expand"] = s.Expand;
        o["conv_kernel"] = s.ConvKernel;
        o["n_groups"] = s.NGroups;
        o["use_bias"] = false;
        o["use_conv_bias"] = s.UseConvBias;
        o["hidden_act"] = "silu";
        o["initializer_range"] = HfJson.Float(cfg.InitializerRange);
        o["layer_norm_epsilon"] = HfJson.Float(cfg.RmsNormEps);
        o["residual_in_fp32"] = true;
        o["time_step_rank"] = "auto";
        o["time_step_min"] = HfJson.Float(s.DtMin);
        o["time_step_max"] = HfJson.Float(s.DtMax);
        o["time_step_floor"] = HfJson.Float(s.DtInitFloor);
        if (s.TimeStepLimit is not [0.0, double.PositiveInfinity])
            o["time_step_limit"] = new JsonArray(HfJson.Float(s.TimeStepLimit[0]),
                HfJson.Float(double.IsFinite(s.TimeStepLimit[1]) ? s.TimeStepLimit[1] : double.MaxValue));
        o["rescale_prenorm_residual"] = false;
        o["rms_norm"] = true;
        o["chunk_size"] = s.ChunkSize;
        o["use_cache"] = true;
        o["tie_word_embeddings"] = cfg.TieWordEmbeddings;
        HfJson.WriteTokenIds(o, cfg);
        o["torch_dtype"] = dtype;
        return o;
    }
}
