namespace HybridSharp.Config;

/// <summary>
/// Named model configurations. Sizes follow architecture.md §12.4: Doge-20M widths for the comparable "-S" presets,
/// plus a tiny preset that trains in minutes on a 2-core laptop (the quickstart default). All use the byte-level
/// vocabulary (261 ids) unless a tokenizer says otherwise.
/// </summary>
public static class Presets
{
    public sealed record Preset(string Name, string Description, Func<ModelConfig> Build);

    private static ModelConfig Transformer(int d, int inter, int layers, int heads, int kvHeads, int? headDim = null) => new()
    {
        ModelType = "llama",
        Architectures = ["LlamaForCausalLM"],
        VocabSize = 261,
        HiddenSize = d,
        IntermediateSize = inter,
        NumHiddenLayers = layers,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        HeadDimOverride = headDim,
        MaxPositionEmbeddings = 2048,
        RopeTheta = 10000,
        TieWordEmbeddings = true,
        BosTokenId = 256,
        EosTokenId = [257],
        PadTokenId = 258,
    };

    public static IReadOnlyList<Preset> All { get; } =
    [
        new("transformer-tiny", "Llama-style Transformer, d 128, 4 layers, 4/2 heads, SwiGLU 384 (quickstart default, ≈0.8M params)",
            () => Transformer(128, 384, 4, 4, 2)),
        new("transformer", "Transformer-S: Doge-20M widths, d 256, 8 layers, 2/1 heads (P 128), SwiGLU 512",
            () => Transformer(256, 512, 8, 2, 1, 128)),
        new("transformer-d256", "benchmark shape: d 256, 4 layers, 4 heads, SwiGLU 1024",
            () => Transformer(256, 1024, 4, 4, 4)),
        new("transformer-d512", "benchmark shape: d 512, 6 layers, 8 heads, SwiGLU 2048",
            () => Transformer(512, 2048, 6, 8, 8)),
    ];

    public static IEnumerable<string> Names => All.Select(p => p.Name);

    /// <summary>A fresh config for <paramref name="name"/>; unknown names give a <see cref="ConfigException"/> listing the known ones.</summary>
    public static ModelConfig Get(string name)
    {
        var p = All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ConfigException($"unknown preset '{name}' (known: {string.Join(", ", Names)})");
        var cfg = p.Build();
        cfg.Preset = p.Name;
        cfg.Validate();
        return cfg;
    }
}
