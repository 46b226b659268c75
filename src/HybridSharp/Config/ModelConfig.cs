using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridSharp.Config;

/// <summary>
/// Model hyper-parameters, serialised as a Hugging Face–style <c>config.json</c>. Unknown keys are ignored on load.
/// A per-layer <see cref="LayerTypes"/> list says which mixer each layer uses ("attention", "ssd", "dma", "mamba1"),
/// and <see cref="MlpTypes"/> which FFN ("mlp", "otce_mlp", a MoE kind, or "none").
/// </summary>
public sealed class ModelConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; set; } = "hybridsharp";
    [JsonPropertyName("architectures")] public List<string>? Architectures { get; set; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 261;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; } = 256;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; set; } = 512;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; set; } = 4;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; } = 4;
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; set; }
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; set; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "silu";
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 2048;
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; set; } = 1e-6;
    /// <summary>RoPE base when a config does not say (Llama's and transformers' default).</summary>
    public const double DefaultRopeTheta = 10000.0;

    [JsonPropertyName("rope_theta")] public double RopeTheta { get; set; } = DefaultRopeTheta;
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; set; }
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; set; }
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; set; }
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; set; } = true;
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; set; } = 0.02;
    [JsonPropertyName("use_residual_vectors")] public bool UseResidualVectors { get; set; }
    [JsonPropertyName("layer_types")] public List<string>? LayerTypes { get; set; }
    [JsonPropertyName("mlp_types")] public List<string>? MlpTypes { get; set; }
    /// <summary>Settings of SSD layers; required when any layer is "ssd".</summary>
    [JsonPropertyName("ssm")] public SsdConfig? Ssd { get; set; }
    /// <summary>Settings of Mamba-1 (selective scan) layers; optional (OTCE defaults apply) when any layer is "mamba1".</summary>
    [JsonPropertyName("mamba1")] public Mamba1Config? Mamba1 { get; set; }
    /// <summary>Layers that end with the OTCE Expresser tail (pre_dense_layernorm, dense, projection); null = none.</summary>
    [JsonPropertyName("expresser_layers")] public List<int>? ExpresserLayers { get; set; }
    /// <summary>
    /// OTCE "logn" length scaling: C of Mamba-1 layers and Q of attention layers are multiplied by
    /// max(1, ln(64 + i)/ln 4096), i = absolute position + 1 (exactly 1 up to position 4031). On in the OTCE presets.
    /// DMA and SSD layers ignore it.
    /// </summary>
    [JsonPropertyName("logn_scaling")] public bool LognScaling { get; set; }
    /// <summary>Settings of DMA layers; optional (defaults apply) when any layer is "dma".</summary>
    [JsonPropertyName("dma")] public DmaConfig? Dma { get; set; }
    /// <summary>Settings of mixture-of-experts FFNs; required when any layer's FFN is "cdmoe", "cdmoe_mh" or "moe".</summary>
    [JsonPropertyName("moe")] public MoeConfig? Moe { get; set; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; set; }
    [JsonPropertyName("eos_token_id")] [JsonConverter(typeof(IntOrListConverter))] public List<int>? EosTokenId { get; set; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }
    [JsonPropertyName("torch_dtype")] public string TorchDtype { get; set; } = "float32";
    [JsonPropertyName("hybridsharp_preset")] public string? Preset { get; set; }
    [JsonPropertyName("tokenizer_kind")] public string TokenizerKind { get; set; } = "byte";

    [JsonIgnore] public int NumKvHeads => NumKeyValueHeads ?? NumAttentionHeads;
    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;

    /// <summary>Mixer type of layer <paramref name="i"/> ("attention" when no list is given).</summary>
    public string LayerType(int i) => LayerTypes is { Count: > 0 } ? LayerTypes[i] : MixerTypes.Attention;

    /// <summary>FFN type of layer <paramref name="i"/> ("mlp" when no list is given).</summary>
    public string MlpType(int i) => MlpTypes is { Count: > 0 } ? MlpTypes[i] : FfnTypes.Mlp;


    /// <summary>True when layer <paramref name="i"/> ends with the OTCE Expresser tail.</summary>
    public bool IsExpresser(int i) => ExpresserLayers?.Contains(i) == true;

    /// <summary>True when some layer uses the mixer <paramref name="layerType"/>.</summary>
    public bool UsesMixer(string layerType) => LayerTypes is { Count: > 0 } ? LayerTypes.Contains(layerType) : layerType == MixerTypes.Attention;

    /// <summary>
    /// Resolves the configuration once, where it enters the library (<see cref="FromJson"/>, <see cref="Load"/>, the
    /// presets, the HF importer, <c>CausalLM</c>'s constructor): the optional sections the layer types need get their
    /// defaults (<c>dma</c>, <c>mamba1</c>), so no later code falls back on its own; then <see cref="Validate"/>.
    /// Idempotent; returns this config.
    /// </summary>
    public ModelConfig Resolve()
    {
        if (UsesMixer(MixerTypes.Dma)) Dma ??= new DmaConfig();
        if (UsesMixer(MixerTypes.Mamba1)) Mamba1 ??= new Mamba1Config();
        Validate();
        return this;
    }

    /// <summary>Checks the configuration; throws <see cref="ConfigException"/> naming the first bad field.</summary>
    public void Validate()
    {
        static void Req(bool ok, string msg) { if (!ok) throw new ConfigException(msg); }
        Req(VocabSize > 0, "vocab_size must be positive");
        Req(HiddenSize > 0, "hidden_size must be positive");
        Req(NumHiddenLayers > 0, "num_hidden_layers must be positive");
        Req(NumAttentionHeads > 0, "num_attention_heads must be positive");
        Req(NumKvHeads > 0 && NumAttentionHeads % NumKvHeads == 0,
            $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKvHeads})");
        Req(HeadDimOverride is not null || HiddenSize % NumAttentionHeads == 0,
            $"hidden_size ({HiddenSize}) must be divisible by num_attention_heads ({NumAttentionHeads}) unless head_dim is given");
        Req(HeadDim > 0 && HeadDim % 2 == 0, $"head_dim ({HeadDim}) must be a positive even number (RoPE rotates pairs)");
        Req(IntermediateSize > 0, "intermediate_size must be positive");
        Req(RmsNormEps > 0, "rms_norm_eps must be positive");
        Req(RopeTheta > 1, "rope_theta must be greater than 1");
        Req(MaxPositionEmbeddings > 0, "max_position_embeddings must be positive");
        Req(HiddenAct is "silu" or "swish" or "gelu" or "relu", $"hidden_act '{HiddenAct}' is not supported (silu, gelu, relu)");
        Req(TorchDtype is "float32" or "bfloat16" or "float16" or "float64", $"torch_dtype '{TorchDtype}' is not known (float32, bfloat16, float16, float64)");
        if (LayerTypes is { Count: > 0 })
        {
            Req(LayerTypes.Count == NumHiddenLayers, $"layer_types has {LayerTypes.Count} entries but num_hidden_layers is {NumHiddenLayers}");
            foreach (var t in LayerTypes)
                Req(MixerTypes.All.Contains(t), $"layer_types: unknown mixer '{t}' (known: {string.Join(", ", MixerTypes.All)})");
        }
        if (UsesMixer(MixerTypes.Ssd))
        {
            Req(Ssd is not null, "layer_types uses 'ssd' but the config has no 'ssm' section");
            Ssd!.Validate(HiddenSize, HeadDim);
        }
        if (UsesMixer(MixerTypes.Dma))
        {
            Req(Dma is not null, "layer_types uses 'dma' but the config has no 'dma' section (Resolve fills the defaults)");
            Dma!.Validate();
        }
        if (UsesMixer(MixerTypes.Mamba1))
        {
            Req(Mamba1 is not null, "layer_types uses 'mamba1' but the config has no 'mamba1' section (Resolve fills the defaults)");
            Mamba1!.Validate(HiddenSize);
        }
        foreach (var e in ExpresserLayers ?? [])
            Req(e >= 0 && e < NumHiddenLayers, $"expresser_layers: layer {e} does not exist ({NumHiddenLayers} layers)");
        if (MlpTypes is { Count: > 0 })
        {
            Req(MlpTypes.Count == NumHiddenLayers, $"mlp_types has {MlpTypes.Count} entries but num_hidden_layers is {NumHiddenLayers}");
            foreach (var t in MlpTypes)
                Req(FfnTypes.All.Contains(t), $"mlp_types: unknown FFN '{t}' (known: {string.Join(", ", FfnTypes.All)})");
        }
        var moeTypes = Enumerable.Range(0, NumHiddenLayers).Select(MlpType).Where(FfnTypes.IsRouted).Distinct().ToList();
        if (moeTypes.Count > 0)
        {
            Req(Moe is not null, $"mlp_types uses '{moeTypes[0]}' but the config has no 'moe' section");
            Moe!.Validate(moeTypes);
        }
        if (RopeScaling is not null)
        {
            Req(RopeScaling.RopeType is "dynamic", $"rope_scaling.rope_type '{RopeScaling.RopeType}' is not supported (dynamic)");
            Req(RopeScaling.Factor >= 1, "rope_scaling.factor must be ≥ 1");
            Req(RopeScaling.OriginalMaxPositionEmbeddings is null or > 0, "rope_scaling.original_max_position_embeddings must be positive");
        }
        if (BosTokenId is { } b) Req(b >= 0 && b < VocabSize, $"bos_token_id {b} is outside the vocabulary");
        if (PadTokenId is { } p) Req(p >= 0 && p < VocabSize, $"pad_token_id {p} is outside the vocabulary");
        foreach (var e in EosTokenId ?? []) Req(e >= 0 && e < VocabSize, $"eos_token_id {e} is outside the vocabulary");
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        // Numbers must be JSON numbers ("hidden_size": "128" is an error); "Infinity" spells an unbounded dt limit.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses and resolves (<see cref="Resolve"/>) a config.json text.</summary>
    public static ModelConfig FromJson(string json, string source = "config.json")
    {
        ModelConfig? cfg;
        try { cfg = JsonSerializer.Deserialize<ModelConfig>(json, JsonOptions); }
        catch (JsonException ex) { throw new ConfigException($"{source}: not valid config JSON ({ex.Message.Split('\n')[0]})"); }
        if (cfg is null) throw new ConfigException($"{source}: empty config");
        try { cfg.Resolve(); }
        catch (ConfigException ex) { throw new ConfigException($"{source}: {ex.Message}"); }
        return cfg;
    }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"config file not found: {path}");
        return FromJson(File.ReadAllText(path), path);
    }

    public void Save(string path) => IO.AtomicFile.WriteAllText(path, ToJson() + "\n");

    public ModelConfig Clone() => FromJson(ToJson());
}

/// <summary>HF <c>rope_scaling</c> object. Only dynamic NTK scaling is supported.</summary>
public sealed class RopeScaling
{
    [JsonPropertyName("rope_type")] public string RopeType { get; set; } = "dynamic";
    [JsonPropertyName("factor")] public double Factor { get; set; } = 1.0;
    [JsonPropertyName("original_max_position_embeddings")] public int? OriginalMaxPositionEmbeddings { get; set; }
}

/// <summary>A configuration error a user can fix; the CLI prints its message as one line.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>Reads an int or a list of ints (HF's <c>eos_token_id</c> may be either).</summary>
internal sealed class IntOrListConverter : JsonConverter<List<int>?>
{
    public override List<int>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType == JsonTokenType.Number) return [reader.GetInt32()];
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected an integer or a list of integers");
        var list = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) list.Add(reader.GetInt32());
        return list;
    }

    public override void Write(Utf8JsonWriter writer, List<int>? value, JsonSerializerOptions options)
    {
        if (value is null) { writer.WriteNullValue(); return; }
        if (value.Count == 1) { writer.WriteNumberValue(value[0]); return; }
        writer.WriteStartArray();
        foreach (var v in value) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}
