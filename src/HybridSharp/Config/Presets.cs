namespace HybridSharp.Config;

/// <summary>
/// Named model configurations. Sizes follow: Doge-20M widths for the comparable "-S" presets,
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
        TieWordEmbeddings = true,
        BosTokenId = 256,
        EosTokenId = [257],
        PadTokenId = 258,
    };

    /// <summary>
    /// TransXSSM-S: Doge-20M widths, 8 layers, attention at i mod 8 = 7, the stripped
    /// Cheems/TransXSSM SSD elsewhere (no conv, no gate/norm, G = H, N = P = 128, x_e = 1) under Unified RoPE, SwiGLU,
    /// learnable residual vectors. <paramref name="rope"/> false gives the no-RoPE ablation.
    /// </summary>
    private static ModelConfig TransXssm(bool rope, int layers = 8)
    {
        var cfg = Transformer(256, 512, layers, 2, 1, 128);
        cfg.ModelType = "hybridsharp";
        cfg.Architectures = ["HybridSharpForCausalLM"];
        cfg.UseResidualVectors = true;
        cfg.LayerTypes = LayerPattern.Periodic(layers, 8, 7, MixerTypes.Attention, MixerTypes.Ssd);
        cfg.Ssd = new SsdConfig
        {
            Expand = 1, HeadDim = 128, StateSize = 128, NGroups = 2, ConvKernel = 0, Gated = false, UseD = true,
            ChunkSize = 64, Rope = rope,
        };
        return cfg;
    }

    /// <summary>Mamba2-S: d 256, 8 SSD layers (x_e 2, P 64 → 8 heads, N 64, G 1, K 4, gated), no FFN.</summary>
    private static ModelConfig Mamba2(int d = 256, int layers = 8)
    {
        var cfg = Transformer(d, 512, layers, 2, 1, 128);
        cfg.ModelType = "hybridsharp";
        cfg.Architectures = ["HybridSharpForCausalLM"];
        cfg.LayerTypes = LayerPattern.Uniform(layers, MixerTypes.Ssd);
        cfg.MlpTypes = LayerPattern.Uniform(layers, FfnTypes.None);
        cfg.RmsNormEps = 1e-5;
        cfg.Ssd = new SsdConfig { Expand = 2, HeadDim = 64, StateSize = 64, NGroups = 1, ConvKernel = 4, Gated = true, UseD = true, ChunkSize = 64 };
        return cfg;
    }

    /// <summary>
    /// Doge (SmallDoge): every layer Dynamic Mask Attention with residual vectors, SwiGLU or product-key CDMoE.
    /// Shapes follow (Doge-20M: d 256, I 512, 8 layers, 2/1 heads × 128; Doge-60M: d 512,
    /// I 1024, 16 layers, 4/2 heads × 128) with the byte-level vocabulary.
    /// </summary>
    private static ModelConfig Doge(int d, int inter, int layers, int heads, int kvHeads, int headDim, bool moe, int experts = 1024, int topK = 8)
    {
        var cfg = Transformer(d, inter, layers, heads, kvHeads, headDim);
        cfg.ModelType = "doge";
        cfg.Architectures = ["DogeForCausalLM"];
        cfg.UseResidualVectors = true;
        cfg.LayerTypes = LayerPattern.Uniform(layers, MixerTypes.Dma);
        cfg.Dma = new DmaConfig { QkNorm = true }; // transformers' DogeAttention always has q_norm/k_norm
        if (moe)
        {
            cfg.MlpTypes = LayerPattern.Uniform(layers, FfnTypes.CdMoe);
            cfg.Moe = new MoeConfig { NumExperts = experts, NumExpertsPerTok = topK, RouterAuxLossCoef = 0.001 };
        }
        return cfg;
    }

    /// <summary>
    /// Cheems / Wonderful Matrices: the TransXSSM stack (SSD-with-RoPE ×7 + one attention-type layer per 8) with DMA
    /// as the attention layer and a CDMoE FFN — multi-head (Cheems, 1024 experts / 1 head / 2 per head / R 64) or
    /// product-key (Wonderful Matrices, 1024 experts, top-8).
    /// </summary>
    private static ModelConfig Cheems(bool productKey, int d = 256, int inter = 512, int layers = 8, int heads = 2, int kvHeads = 1, int headDim = 128, int period = 8)
    {
        var cfg = Transformer(d, inter, layers, heads, kvHeads, headDim);
        cfg.ModelType = "hybridsharp";
        cfg.Architectures = ["HybridSharpForCausalLM"];
        cfg.UseResidualVectors = true;
        cfg.LayerTypes = LayerPattern.Periodic(layers, period, period - 1, MixerTypes.Dma, MixerTypes.Ssd);
        cfg.Dma = new DmaConfig();
        cfg.Ssd = new SsdConfig
        {
            Expand = 1, HeadDim = headDim, StateSize = headDim, NGroups = d / headDim, ConvKernel = 0, Gated = false, ChunkSize = 64, Rope = true,
        };
        cfg.MlpTypes = LayerPattern.Uniform(layers, productKey ? FfnTypes.CdMoe : FfnTypes.CdMoeMultiHead);
        cfg.Moe = productKey
            ? new MoeConfig { NumExperts = 1024, NumExpertsPerTok = 8, RouterAuxLossCoef = 0.001 }
            : new MoeConfig { NumExperts = 1024, NumCdmoeHeads = 1, NumCdmoeExpertsPerHead = 2, ExpertRetrievalSize = 64, RouterAuxLossCoef = 0.001 };
        return cfg;
    }

    /// <summary>
    /// OTCE (arXiv 2406.16495): Observer (Mamba-1 × <paramref name="observer"/>) → Thinker
    /// (attention × <paramref name="thinker"/>) → Conceiver (Mamba-1 × <paramref name="conceiver"/>) → Expresser (one
    /// attention layer with the dense/projection tail). FFNs: OTCE MLP in layer 0, in the last Conceiver layer and in the
    /// Expresser; the OTCE MoE (4 experts, top-1, expansive) everywhere else. Untied head, RMS eps 1e-6, θ 1e4, no RoPE
    /// scaling; the "logn" factor max(1, ln(64 + i)/ln 4096) on Mamba-1 C and attention Q (<c>logn_scaling</c>) is on.
    /// </summary>
    private static ModelConfig Otce(int d, int inter, int observer, int thinker, int conceiver, int heads, int kvHeads, int headDim,
        int stateSize, int dtRank, int maxPositions = 2048)
    {
        int layers = observer + thinker + conceiver + 1;
        var cfg = Transformer(d, inter, layers, heads, kvHeads, headDim);
        cfg.ModelType = "hybridsharp";
        cfg.Architectures = ["HybridSharpForCausalLM"];
        cfg.TieWordEmbeddings = false;
        cfg.MaxPositionEmbeddings = maxPositions;
        cfg.LayerTypes =
        [
            .. LayerPattern.Uniform(observer, MixerTypes.Mamba1),
            .. LayerPattern.Uniform(thinker, MixerTypes.Attention),
            .. LayerPattern.Uniform(conceiver, MixerTypes.Mamba1),
            MixerTypes.Attention,
        ];
        cfg.MlpTypes = Enumerable.Range(0, layers)
            .Select(i => i == 0 || i >= layers - 2 ? FfnTypes.OtceMlp : FfnTypes.OtceMoe)
            .ToList();
        cfg.ExpresserLayers = [layers - 1];
        cfg.LognScaling = true;
        cfg.Mamba1 = new Mamba1Config { Expand = 1, StateSize = stateSize, DtRank = dtRank, ConvKernel = 4, Rope = true, InnerLayernorms = true };
        cfg.Moe = new MoeConfig { NumExperts = 4, NumExpertsPerTok = 1, OtceMoeKind = MoeConfig.OtceExpansive, RouterAuxLossCoef = 0.001 };
        return cfg;
    }

    public static IReadOnlyList<Preset> All { get; } =
    [
        new("transformer-tiny", "Llama-style Transformer, d 128, 4 layers, 4/2 heads, SwiGLU 384 (≈0.8M params)",
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
                cfg.LayerTypes = LayerPattern.Periodic(4, 4, 3, MixerTypes.Attention, MixerTypes.Ssd);
                cfg.Ssd = new SsdConfig { Expand = 1, HeadDim = 64, StateSize = 64, NGroups = 2, ConvKernel = 0, Gated = false, ChunkSize = 64, Rope = true };
                return cfg;
            }),
        new("transxssm-tiny-2a", "TransXSSM at quickstart size with attention every second layer (SSD-with-RoPE, attention, SSD-with-RoPE, attention): the same widths as transxssm-tiny, two attention layers for tasks that copy from far back (the quickstart's model and the LiteCoT miniature's student)",
            () =>
            {
                var cfg = Get("transxssm-tiny");   // Get stamps the preset name afterwards
                cfg.LayerTypes = LayerPattern.Periodic(4, 2, 1, MixerTypes.Attention, MixerTypes.Ssd);
                return cfg;
            }),
        new("doge", "Doge-20M shape: DMA ×8 (keep window 2048), SwiGLU 512, residual vectors", () => Doge(256, 512, 8, 2, 1, 128, moe: false)),
        new("doge-60m", "Doge-60M shape: d 512, DMA ×16, 4/2 heads × 128, SwiGLU 1024", () => Doge(512, 1024, 16, 4, 2, 128, moe: false)),
        new("doge-tiny", "Doge at quickstart size: d 128, DMA ×4, 2/1 heads × 64, SwiGLU 384", () => Doge(128, 384, 4, 2, 1, 64, moe: false)),
        new("doge-moe", "Doge-40M-MoE shape: d 256, DMA ×8, shared SwiGLU 768 + product-key CDMoE (1024 experts, top-8)",
            () => Doge(256, 768, 8, 2, 1, 128, moe: true)),
        new("doge-moe-tiny", "Doge-MoE at quickstart size: d 128, DMA ×4, SwiGLU 256 + CDMoE (256 experts, top-4)",
            () => Doge(128, 256, 4, 2, 1, 64, moe: true, experts: 256, topK: 4)),
        new("cheems", "Cheems-S: SSD-with-RoPE ×7 + DMA ×1, multi-head CDMoE (1024 experts, 1 head × 2, R 64), residual vectors",
            () => Cheems(productKey: false)),
        new("cheems-tiny", "Cheems at quickstart size: d 128, SSD ×3 + DMA ×1, multi-head CDMoE",
            () => Cheems(productKey: false, d: 128, inter: 256, layers: 4, heads: 2, kvHeads: 1, headDim: 64, period: 4)),
        new("wonderful-matrices", "Wonderful Matrices: the Cheems stack with product-key CDMoE (1024 experts, top-8)",
            () => Cheems(productKey: true)),
        new("wonderful-matrices-tiny", "Wonderful Matrices at quickstart size: d 128, SSD ×3 + DMA ×1, product-key CDMoE",
            () => Cheems(productKey: true, d: 128, inter: 256, layers: 4, heads: 2, kvHeads: 1, headDim: 64, period: 4)),
        new("otce", "OTCE defaults: d 1024, Mamba-1 ×12 → attention ×2 → Mamba-1 ×9 → Expresser, 16/8 heads × 64, N 64, R 64, OTCE MLP 4096 / MoE (4 experts, top-1, expansive), logn scaling of C and Q beyond position 4031",
            () => Otce(1024, 4096, 12, 2, 9, 16, 8, 64, stateSize: 64, dtRank: 64, maxPositions: 65536)),
        new("otce-s", "OTCE-S: d 256, Mamba-1 ×4 → attention ×1 → Mamba-1 ×3 → Expresser, 2/1 heads × 128, N 64, R 16, OTCE MLP 512 / MoE (4, top-1, expansive), logn scaling",
            () => Otce(256, 512, 4, 1, 3, 2, 1, 128, stateSize: 64, dtRank: 16)),
        new("otce-tiny", "OTCE at test size: d 64, Mamba-1 ×2 → attention ×1 → Mamba-1 ×2 → Expresser, 2/1 heads × 32, N 16, R 4, OTCE MLP 128 / MoE, logn scaling",
            () => Otce(64, 128, 2, 1, 2, 2, 1, 32, stateSize: 16, dtRank: 4)),
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
        cfg.Resolve();
        return cfg;
    }
}
