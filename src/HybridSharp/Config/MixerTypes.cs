namespace HybridSharp.Config;

/// <summary>The <c>layer_types</c> entries of config.json: which sequence mixer a layer uses.</summary>
public static class MixerTypes
{
    /// <summary>Grouped-query softmax attention with RoPE.</summary>
    public const string Attention = "attention";
    /// <summary>Mamba-2 SSD (state-space duality), optionally with RoPE on B and C (section <c>ssm</c>).</summary>
    public const string Ssd = "ssd";
    /// <summary>Dynamic Mask Attention of Doge / Wonderful Matrices (section <c>dma</c>).</summary>
    public const string Dma = "dma";
    /// <summary>Mamba-1 selective scan, OTCE style (section <c>mamba1</c>).</summary>
    public const string Mamba1 = "mamba1";

    /// <summary>Every known entry.</summary>
    public static readonly string[] All = [Attention, Ssd, Dma, Mamba1];
}
