using HybridSharp.Checkpoints.HfInterop;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Checkpoints.Gguf;

/// <summary>What <see cref="GgufExporter.Export"/> wrote.</summary>
public sealed record GgufExportResult(string Path, string Architecture, string Type, int TensorCount, long Bytes);

/// <summary>
/// Writes a model as one GGUF file for llama.cpp and the engines built on it (LLamaSharp, Ollama, LM Studio). Plain
/// transformers (every layer attention + SwiGLU, no residual vectors) become llama.cpp's <c>llama</c> architecture,
/// full Mamba-2 stacks (every layer SSD with conv and gated norm, no FFN) its <c>mamba2</c> (A stored as −exp(A_log),
/// the conv kernel squeezed to [C, K], the gated norm's weight as [groups, d_in/groups]). For llama, llama.cpp applies RoPE to interleaved pairs where HybridSharp (as HF) rotates the two halves of a head, so the rows
/// of q_proj and k_proj are permuted per head from [half₁ | half₂] to [x₀ y₀ x₁ y₁ …], which gives the same scores.
/// Matrices are written as f32, f16 or q8_0 (norms always f32). The byte tokenizer's vocabulary goes along as a
/// byte-level BPE vocabulary without merges (each byte its own token, specials as control tokens), with BOS/EOS/PAD and
/// the chat template. Other models get an error naming what llama.cpp lacks.
/// </summary>
public static class GgufExporter
{
    public static IReadOnlyList<string> Types { get; } = ["f32", "f16", "q8_0"];

    public static GgufExportResult Export(string modelDir, string outputPath, string type = "f32", bool overwrite = false)
    {
        var tensorType = type.ToLowerInvariant() switch
        {
            "f32" or "float32" => GgufTensorType.F32,
            "f16" or "float16" => GgufTensorType.F16,
            "q8_0" => GgufTensorType.Q8_0,
            _ => throw new ArgumentException($"GGUF type '{type}' is not supported (supported: {string.Join(", ", Types)})"),
        };
        if (File.Exists(outputPath) && !overwrite) throw new ArgumentException($"{outputPath} exists; pass `overwrite` to replace it");
        if (Directory.Exists(outputPath)) throw new ArgumentException($"{outputPath} is a directory; GGUF export writes one file (e.g. model.gguf)");
        var (model, tokenizer) = ModelDirectory.Load(modelDir);
        using var _ = model;
        var cfg = model.Config;
        string arch = Architecture(cfg);
        if (tokenizer is not ByteTokenizer bytes)
            throw new ArgumentException(
                $"GGUF export writes the byte tokenizer's vocabulary; this model uses '{cfg.TokenizerKind}' — export it with --format hf " +
                "and convert that with llama.cpp's convert_hf_to_gguf.py, which knows its tokenizer");
        var w = new GgufWriter();
        string name = cfg.Preset ?? Path.GetFileName(Path.GetFullPath(modelDir).TrimEnd('/'));
        if (arch == "llama") WriteLlamaMetadata(w, cfg, name, tensorType);
        else WriteMamba2Metadata(w, cfg, name, tensorType);
        WriteByteVocabulary(w, bytes, modelDir);
        if (arch == "llama") WriteLlamaTensors(w, model, cfg, tensorType);
        else WriteMamba2Tensors(w, model, cfg, tensorType);
        w.Write(outputPath);
        return new GgufExportResult(outputPath, arch, tensorType.ToString().ToLowerInvariant(), w.TensorCount, new FileInfo(outputPath).Length);
    }

    /// <summary>The llama.cpp architecture of a model, or an <see cref="ArgumentException"/> naming what is missing.</summary>
    public static string Architecture(ModelConfig cfg)
    {
        string hf;
        try { hf = HfExporter.TargetModelType(cfg); }
        catch (ArgumentException ex) { throw new ArgumentException("llama.cpp has no architecture for this model: " + ex.Message); }
        if (hf == "doge")
            throw new ArgumentException("llama.cpp has no architecture with Dynamic Mask Attention (Doge); export it with --format hf instead");
        if (hf == "mamba2")
        {
            var s = cfg.Ssd!;
            if (Math.Abs(s.NormEps - cfg.RmsNormEps) > 1e-12)
                throw new ArgumentException($"llama.cpp's mamba2 uses one epsilon for the layer norms and the gated SSD norm; this model has rms_norm_eps {cfg.RmsNormEps} and ssm.norm_eps {s.NormEps}");
            if (s.TimeStepLimit[0] > 0 || !double.IsPositiveInfinity(s.TimeStepLimit[1]))
                throw new ArgumentException("the model clamps dt (ssm.time_step_limit), which llama.cpp's mamba2 does not");
            if (!s.UseConvBias) throw new ArgumentException("llama.cpp's mamba2 loads a conv bias; this model has none");
            return "mamba2";
        }
        if (cfg.RopeScaling is not null)
            throw new ArgumentException("the model uses dynamic NTK rope_scaling, which GGUF's llama metadata cannot express");
        if (cfg.HiddenAct is not ("silu" or "swish"))
            throw new ArgumentException($"llama.cpp's llama architecture uses SiLU; this model uses '{cfg.HiddenAct}'");
        if (cfg.AttentionBias || cfg.MlpBias)
            throw new ArgumentException("the model has attention or MLP biases, which llama.cpp's llama architecture does not load");
        return "llama";
    }

    private static void WriteGeneral(GgufWriter w, string arch, string name, GgufTensorType type)
    {
        w.Add("general.architecture", arch);
        w.Add("general.name", name);
        w.Add("general.file_type", type switch { GgufTensorType.F32 => 0u, GgufTensorType.F16 => 1u, _ => 7u });
    }

    private static void WriteMamba2Metadata(GgufWriter w, ModelConfig cfg, string name, GgufTensorType type)
    {
        var s = cfg.Ssd!;
        WriteGeneral(w, "mamba2", name, type);
        w.Add("mamba2.context_length", (uint)cfg.MaxPositionEmbeddings);
        w.Add("mamba2.embedding_length", (uint)cfg.HiddenSize);
        w.Add("mamba2.feed_forward_length", 0u);
        w.Add("mamba2.attention.head_count", 0u);
        w.Add("mamba2.block_count", (uint)cfg.NumHiddenLayers);
        w.Add("mamba2.ssm.conv_kernel", (uint)s.ConvKernel);
        w.Add("mamba2.ssm.inner_size", (uint)s.InnerSize(cfg.HiddenSize));
        w.Add("mamba2.ssm.state_size", (uint)s.StateSize);
        w.Add("mamba2.ssm.time_step_rank", (uint)s.NumHeads(cfg.HiddenSize));
        w.Add("mamba2.ssm.group_count", (uint)s.NGroups);
        w.Add("mamba2.attention.layer_norm_rms_epsilon", (float)cfg.RmsNormEps);
        w.Add("mamba2.vocab_size", (uint)cfg.VocabSize);
    }

    private static void WriteLlamaMetadata(GgufWriter w, ModelConfig cfg, string name, GgufTensorType type)
    {
        WriteGeneral(w, "llama", name, type);
        w.Add("llama.context_length", (uint)cfg.MaxPositionEmbeddings);
        w.Add("llama.embedding_length", (uint)cfg.HiddenSize);
        w.Add("llama.block_count", (uint)cfg.NumHiddenLayers);
        w.Add("llama.feed_forward_length", (uint)cfg.IntermediateSize);
        w.Add("llama.attention.head_count", (uint)cfg.NumAttentionHeads);
        w.Add("llama.attention.head_count_kv", (uint)cfg.NumKvHeads);
        w.Add("llama.attention.key_length", (uint)cfg.HeadDim);
        w.Add("llama.attention.value_length", (uint)cfg.HeadDim);
        w.Add("llama.rope.dimension_count", (uint)cfg.HeadDim);
        w.Add("llama.rope.freq_base", (float)cfg.RopeTheta);
        w.Add("llama.attention.layer_norm_rms_epsilon", (float)cfg.RmsNormEps);
        w.Add("llama.vocab_size", (uint)cfg.VocabSize);
    }

    /// <summary>GPT-2's reversible byte → printable character map, the alphabet of byte-level BPE vocabularies.</summary>
    public static string[] ByteLevelAlphabet()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToHashSet();
        var map = new string[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
            map[b] = printable.Contains(b) ? ((char)b).ToString() : ((char)(256 + next++)).ToString();
        return map;
    }

    private static void WriteByteVocabulary(GgufWriter w, ByteTokenizer tokenizer, string modelDir)
    {
        var tokens = ByteLevelAlphabet().ToList();
        var types = Enumerable.Repeat(1, 256).ToList();                       // 1 = normal
        foreach (var (text, id) in tokenizer.SpecialTokens.OrderBy(kv => kv.Value))
        {
            if (id != tokens.Count) throw new InvalidOperationException($"special token ids must follow the 256 bytes in order ({text} is {id})");
            tokens.Add(text);
            types.Add(3);                                                      // 3 = control
        }
        w.Add("tokenizer.ggml.model", "gpt2");
        w.Add("tokenizer.ggml.pre", "default");
        w.Add("tokenizer.ggml.tokens", tokens);
        w.Add("tokenizer.ggml.token_type", types);
        w.Add("tokenizer.ggml.merges", Array.Empty<string>());
        w.Add("tokenizer.ggml.bos_token_id", (uint)tokenizer.BosId);
        w.Add("tokenizer.ggml.eos_token_id", (uint)tokenizer.EosId);
        w.Add("tokenizer.ggml.padding_token_id", (uint)tokenizer.PadId);
        w.Add("tokenizer.ggml.add_bos_token", true);
        w.Add("tokenizer.ggml.add_eos_token", false);
        w.Add("tokenizer.chat_template", ChatTemplateText(modelDir));
    }

    /// <summary>The model's chat template text: chat_template.jinja, else tokenizer_config.json's, else ChatML (the byte tokenizer has its tokens).</summary>
    private static string ChatTemplateText(string modelDir)
    {
        var file = Path.Combine(modelDir, Chat.ChatTemplate.TemplateFileName);
        if (File.Exists(file)) return File.ReadAllText(file);
        var config = Path.Combine(modelDir, "tokenizer_config.json");
        if (File.Exists(config)
            && System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(config)) is System.Text.Json.Nodes.JsonObject o
            && o["chat_template"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var text))
            return text;
        return ChatMl.Template;
    }

    /// <summary>Adds one tensor: projections and embeddings in the chosen type, everything else (norms, SSM scalars, conv kernels) in f32.</summary>
    private static void Put(GgufWriter w, Tensor t, string gguf, GgufTensorType type, bool matrix)
    {
        using var scope = NewDisposeScope();
        var f = t.detach().to_type(ScalarType.Float32).contiguous();
        w.AddTensor(gguf, f.data<float>().ToArray(), f.shape, matrix ? type : GgufTensorType.F32);
    }

    private static void WriteMamba2Tensors(GgufWriter w, CausalLM model, ModelConfig cfg, GgufTensorType type)
    {
        using var scope = NewDisposeScope();
        var state = model.state_dict();
        var s = cfg.Ssd!;
        long dIn = s.InnerSize(cfg.HiddenSize);
        Put(w, state["model.embed_tokens.weight"], "token_embd.weight", type, true);
        for (int i = 0; i < cfg.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.", m = p + "mamba.", b = $"blk.{i}.";
            Put(w, state[p + "input_layernorm.weight"], b + "attn_norm.weight", type, false);
            Put(w, state[m + "in_proj.weight"], b + "ssm_in.weight", type, true);
            Put(w, state[m + "conv1d.weight"].squeeze(1), b + "ssm_conv1d.weight", type, false);
            Put(w, state[m + "conv1d.bias"], b + "ssm_conv1d.bias", type, false);
            Put(w, state[m + "dt_bias"], b + "ssm_dt.bias", type, false);
            Put(w, state[m + "A_log"].exp().neg().unsqueeze(-1), b + "ssm_a", type, false);
            Put(w, state[m + "D"].unsqueeze(-1), b + "ssm_d", type, false);
            Put(w, state[m + "norm.weight"].reshape(s.NGroups, dIn / s.NGroups), b + "ssm_norm.weight", type, false);
            Put(w, state[m + "out_proj.weight"], b + "ssm_out.weight", type, true);
        }
        Put(w, state["model.norm.weight"], "output_norm.weight", type, false);
        if (!cfg.TieWordEmbeddings) Put(w, state["lm_head.weight"], "output.weight", type, true);
    }

    private static void WriteLlamaTensors(GgufWriter w, CausalLM model, ModelConfig cfg, GgufTensorType type)
    {
        using var scope = NewDisposeScope();
        var state = model.state_dict();
        void PutWeight(string gguf, string name, int permuteHeads = 0)
        {
            var t = state[name];
            if (permuteHeads > 0)   // per head: rows [half₁ | half₂] → interleaved pairs
            {
                long rows = t.size(0), cols = t.size(1);
                t = t.reshape(permuteHeads, 2, rows / permuteHeads / 2, cols).transpose(1, 2).reshape(rows, cols);
            }
            Put(w, t, gguf, type, t.dim() >= 2);
        }
        PutWeight("token_embd.weight", "model.embed_tokens.weight");
        for (int i = 0; i < cfg.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.", b = $"blk.{i}.";
            PutWeight(b + "attn_norm.weight", p + "input_layernorm.weight");
            PutWeight(b + "attn_q.weight", p + "self_attn.q_proj.weight", cfg.NumAttentionHeads);
            PutWeight(b + "attn_k.weight", p + "self_attn.k_proj.weight", cfg.NumKvHeads);
            PutWeight(b + "attn_v.weight", p + "self_attn.v_proj.weight");
            PutWeight(b + "attn_output.weight", p + "self_attn.o_proj.weight");
            PutWeight(b + "ffn_norm.weight", p + "post_attention_layernorm.weight");
            PutWeight(b + "ffn_gate.weight", p + "mlp.gate_proj.weight");
            PutWeight(b + "ffn_up.weight", p + "mlp.up_proj.weight");
            PutWeight(b + "ffn_down.weight", p + "mlp.down_proj.weight");
        }
        PutWeight("output_norm.weight", "model.norm.weight");
        if (!cfg.TieWordEmbeddings) PutWeight("output.weight", "lm_head.weight");   // tied: llama.cpp reuses token_embd
    }
}
