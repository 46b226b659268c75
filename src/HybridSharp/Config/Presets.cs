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

    /// <summary>
    /// TransXSSM-S (architecture.md §12.4): Doge-20M widths, 8 layers, attention at i mod 8 = 7, the stripped
    /// Cheems/TransXSSM SSD elsewhere (no conv, no gate/norm, G = H, N = P = 128, x_e = 1) under Unified RoPE, SwiGLU,
    /// learnable residual vectors. <paramref name="rope"/> false gives the no-RoPE ablation.
    /// </summary>
    private static ModelConfig TransXssm(bool rope, int layers = 8)
    {
        var cfg = Transformer(256, 512, layers, 2, 1, 128);
        cfg.ModelType = "hybridsharp";
        cfg.Architectures = ["HybridSharpForCausalLM"];
        cfg.UseResidualVectors = true;
        cfg.LayerTypes = LayerPattern.Periodic(layers, 8, 7, ModelConfig.Attention, ModelConfig.Ssd);
        cfg.Ssm = new SsmConfig
        {
            Expand = 1, HeadDim = 128, StateSize = 128, NGroups = 2, ConvKernel = 0, Gated = false, UseD = true,
            ChunkSize = 64, Rope = rope,
        };
        return cfg;
    }

    /// <summary>Mamba2-S (architecture.md §12.4): d 256, 8 SSD layers (x_e 2, P 64 → 8 heads, N 64, G 1, K 4, gated), no FFN.</summary>
    private static ModelConfig Mamba2(int d = 256, int layers = 8)
    {
        var cfg = Transformer(d, 512, layers, 2, 1, 128);
        cfg.ModelType = "hybridsharp";
        cfg.Architectures = ["HybridSharpForCausalLM"];
        cfg.LayerTypes = LayerPattern.Uniform(layers, ModelConfig.Ssd);
        cfg.MlpTypes = LayerPattern.Uniform(layers, ModelConfig.NoFfn);
        cfg.RmsNormEps = 1e-5;
        cfg.Ssm = new SsmConfig { Expand = 2, HeadDim = 64, StateSize = 64, NGroups = 1, ConvKernel = 4, Gated = true, UseD = true, ChunkSize = 64 };
        return cfg;
    }

    public static IReadOnlyList<Preset> All { get; } =
    [
        new("transformer-tiny", "Llama-style Transformer, d 128, 4 layers, 4/2 heads, SwiGLU 384 (quickstart default, ≈0.8M params)",
            () => Transformer(128, 384, 4, 4, 2)),
        new("transformer", "Transformer-S: Doge-20M widths, d 256, 8 layers, 2/1 heads (P 128), SwiGLU 512",
            () => Transformer(256, 512, 8, 2, 1, 128)),
        new("mamba2", "Mamba2-S: d 256, 8 SSD layers (expand 2, 8 heads × 64, state 64, conv 4, gated norm), no FFN",
            () => Mamba2()),
        new("transxssm", "TransXSSM-S: Doge-20M widths, SSD-with-RoPE ×7 + attention ×1 under Unified RoPE, SwiGLU 512, residual vectors",
            () => TransXssm(rope: true)),
        new("transxssm-norope", "TransXSSM-S without RoPE in the SSD layers (ablation)",
            () => TransXssm(rope: false)),
        new("transxssm-tiny", "TransXSSM at quickstart size: d 128, 4 layers (SSD-with-RoPE ×3 + attention ×1), 2/1 heads × 64, SwiGLU 384",
            () =>
            {
                var cfg = Transformer(128, 384, 4, 2, 1, 64);
                cfg.ModelType = "hybridsharp";
                cfg.Architectures = ["HybridSharpForCausalLM"];
                cfg.UseResidualVectors = true;
                cfg.LayerTypes = LayerPattern.Periodic(4, 4, 3, ModelConfig.Attention, ModelConfig.Ssd);
                cfg.Ssm = new SsmConfig { Expand = 1, HeadDim = 64, StateSize = 64, NGroups = 2, ConvKernel = 0, Gated = false, ChunkSize = 64, Rope = true };
                return cfg;
            }),
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
