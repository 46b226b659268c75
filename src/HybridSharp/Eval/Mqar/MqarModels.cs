using System.Globalization;
using HybridSharp.Config;

namespace HybridSharp.Eval.Mqar;

/// <summary>
/// Two-layer MQAR models in the "hybridsharp" harness mode: our decoder blocks (pre-RMSNorm,
/// RoPE, tied head, normal(0, 0.02) init with scaled output projections), one attention head of width d
/// (Zoology Figure 2: 1-head MHA), no FFN (Figure 2: state mixer = identity) or a SwiGLU FFN of width 4·d.
/// <list type="bullet">
/// <item><c>attention</c>: attention × 2.</item>
/// <item><c>dma</c>: Dynamic Mask Attention × 2 with keep_window_size ≥ T (= attention + learned per-key bias);
/// <c>dma-w&lt;N&gt;</c> keeps only the N largest mask entries per query (top-k active once T &gt; N).</item>
/// <item><c>ssd</c>: the stripped TransXSSM/Cheems SSD × 2 — expand 1, no conv, not gated, D skip, RoPE on B and C,
/// state N = the attention head dim (= d), SSD heads of P = 64 channels (P = d when d is not a multiple of 64), one
/// B/C group per head; recurrent state per layer = d².</item>
/// <item><c>ssd-norope</c>: the same SSD without RoPE (the C3 ablation: no positional mechanism of its own).</item>
/// <item><c>hybrid</c>: SSD (with RoPE) in layer 0, attention in layer 1.</item>
/// <item><c>mamba1</c>: the OTCE Mamba-1 selective scan × 2 — expand 1, state N 64, conv 4, RMSNorms on dt/B/C, RoPE on
/// B and C (dimension N); recurrent state per layer = 64·d.</item>
/// <item><c>otce</c>: Mamba-1 (Observer) in layer 0, attention (Thinker) in layer 1.</item>
/// </list>
/// </summary>
public static class MqarModels
{
    public const string Attention = "attention";
    public const string Dma = "dma";
    public const string Ssd = "ssd";
    public const string SsdNoRope = "ssd-norope";
    public const string Hybrid = "hybrid";
    public const string Mamba1 = "mamba1";
    public const string Otce = "otce";
    private const string DmaWindowPrefix = "dma-w";

    /// <summary>The fixed mixer names; <c>dma-w&lt;N&gt;</c> is accepted besides these.</summary>
    public static IReadOnlyList<string> Mixers { get; } = [Attention, Dma, Ssd, SsdNoRope, Hybrid, Mamba1, Otce];

    public const int Layers = 2;

    /// <summary>True for a mixer name <see cref="Build"/> accepts.</summary>
    public static bool IsKnown(string mixer) => Mixers.Contains(mixer) || TryDmaWindow(mixer, out _);

    /// <summary>
    /// The config of a 2-layer MQAR model with mixer <paramref name="mixer"/>, width <paramref name="dModel"/>, with or
    /// without an FFN, for vocabulary <paramref name="vocabSize"/> and sequences up to <paramref name="maxSeqLen"/>.
    /// </summary>
    public static ModelConfig Build(string mixer, int dModel, bool mlp, int vocabSize = MqarSpec.DefaultVocab, int maxSeqLen = 2048)
    {
        if (dModel <= 0 || dModel % 2 != 0) throw new ArgumentException($"MQAR: d_model must be a positive even number (got {dModel})");
        if (vocabSize <= 0) throw new ArgumentException($"MQAR: vocabulary must be positive (got {vocabSize})");
        int maxPos = Math.Max(2048, maxSeqLen);
        var cfg = new ModelConfig
        {
            ModelType = "hybridsharp",
            Architectures = ["HybridSharpForCausalLM"],
            VocabSize = vocabSize,
            HiddenSize = dModel,
            IntermediateSize = 4 * dModel,
            NumHiddenLayers = Layers,
            NumAttentionHeads = 1,
            NumKeyValueHeads = 1,
            MaxPositionEmbeddings = maxPos,
            RmsNormEps = 1e-5,
            TieWordEmbeddings = true,
            InitializerRange = 0.02,
            Preset = $"mqar-{mixer}-d{dModel}{(mlp ? "-mlp" : "")}",
            MlpTypes = LayerPattern.Uniform(Layers, mlp ? FfnTypes.Mlp : FfnTypes.None),
        };
        switch (mixer)
        {
            case Attention:
                cfg.LayerTypes = LayerPattern.Uniform(Layers, MixerTypes.Attention);
                break;
            case Dma:
                cfg.LayerTypes = LayerPattern.Uniform(Layers, MixerTypes.Dma);
                cfg.Dma = new DmaConfig { KeepWindowSize = maxPos };
                break;
            case Ssd or SsdNoRope:
                cfg.LayerTypes = LayerPattern.Uniform(Layers, MixerTypes.Ssd);
                cfg.Ssd = StrippedSsd(dModel, rope: mixer == Ssd);
                break;
            case Hybrid:
                cfg.LayerTypes = [MixerTypes.Ssd, MixerTypes.Attention];
                cfg.Ssd = StrippedSsd(dModel, rope: true);
                break;
            case Mamba1:
                cfg.LayerTypes = LayerPattern.Uniform(Layers, MixerTypes.Mamba1);
                cfg.Mamba1 = new Mamba1Config();
                break;
            case Otce:
                cfg.LayerTypes = [MixerTypes.Mamba1, MixerTypes.Attention];
                cfg.Mamba1 = new Mamba1Config();
                break;
            default:
                if (!TryDmaWindow(mixer, out int window))
                    throw new ArgumentException($"MQAR: unknown mixer '{mixer}' (known: {string.Join(", ", Mixers)}, dma-w<N>)");
                cfg.LayerTypes = LayerPattern.Uniform(Layers, MixerTypes.Dma);
                cfg.Dma = new DmaConfig { KeepWindowSize = window };
                break;
        }
        cfg.Resolve();
        return cfg;
    }

    private static SsdConfig StrippedSsd(int dModel, bool rope)
    {
        int p = dModel % 64 == 0 ? 64 : dModel;
        return new SsdConfig
        {
            Expand = 1, HeadDim = p, StateSize = dModel, NGroups = dModel / p, ConvKernel = 0, Gated = false, UseD = true,
            ChunkSize = 64, Rope = rope,
        };
    }

    private static bool TryDmaWindow(string mixer, out int window)
    {
        window = 0;
        return mixer.StartsWith(DmaWindowPrefix, StringComparison.Ordinal)
            && int.TryParse(mixer.AsSpan(DmaWindowPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out window)
            && window > 0;
    }
}
