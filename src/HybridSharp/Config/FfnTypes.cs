namespace HybridSharp.Config;

/// <summary>The <c>mlp_types</c> entries of config.json: which feed-forward network a layer uses.</summary>
public static class FfnTypes
{
    /// <summary>SwiGLU MLP (Llama).</summary>
    public const string Mlp = "mlp";
    /// <summary>OTCE MLP down(tanh(up(x)) ⊙ SiLU(gate(x))).</summary>
    public const string OtceMlp = "otce_mlp";
    /// <summary>No FFN: the layer is its mixer only.</summary>
    public const string None = "none";
    /// <summary>Product-key cross-domain MoE (section <c>moe</c>).</summary>
    public const string CdMoe = "cdmoe";
    /// <summary>Multi-head cross-domain MoE of Cheems / Wonderful Matrices (section <c>moe</c>).</summary>
    public const string CdMoeMultiHead = "cdmoe_mh";
    /// <summary>Top-k softmax MoE baseline (section <c>moe</c>).</summary>
    public const string TopKMoe = "moe";
    /// <summary>OTCE cross-domain MoE, variant chosen by <c>moe.otce_moe_kind</c> (section <c>moe</c>).</summary>
    public const string OtceMoe = "otce_moe";

    /// <summary>The entries served by the <c>moe</c> section.</summary>
    public static readonly string[] Routed = [CdMoe, CdMoeMultiHead, TopKMoe, OtceMoe];

    /// <summary>True when <paramref name="mlpType"/> is one of <see cref="Routed"/>.</summary>
    public static bool IsRouted(string mlpType) => Array.IndexOf(Routed, mlpType) >= 0;

    /// <summary>Every known entry.</summary>
    public static readonly string[] All = [Mlp, None, OtceMlp, CdMoe, CdMoeMultiHead, TopKMoe, OtceMoe];
}
