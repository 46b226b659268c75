using System.Text.Json.Serialization;

namespace HybridSharp.Config;

/// <summary>
/// Settings of Dynamic Mask Attention layers, the <c>dma</c> sub-object of config.json.
/// <see cref="Layout"/> "upstream" (HF transformers Doge) sizes <c>A</c> and <c>dt_proj</c> by the KV heads and
/// shares one mask head among the g query heads of a group; "legacy" (published SmallDoge checkpoints,
/// WonderfulMatrices) sizes them by the query heads. The two coincide when H == Hkv.
/// </summary>
public sealed class DmaConfig
{
    public const string Upstream = "upstream";
    public const string Legacy = "legacy";
    public static readonly string[] KnownLayouts = [Upstream, Legacy];

    /// <summary>The keep window of the Doge models and of HF configs that omit it.</summary>
    public const int DefaultKeepWindowSize = 2048;

    /// <summary>w: each query keeps at most this many keys (the largest dynamic-mask entries) once more keys are visible.</summary>
    [JsonPropertyName("keep_window_size")] public int KeepWindowSize { get; set; } = DefaultKeepWindowSize;
    /// <summary>"upstream" (A, dt_proj per KV head) or "legacy" (per query head).</summary>
    [JsonPropertyName("layout")] public string Layout { get; set; } = Upstream;
    /// <summary>Per-head RMSNorm of Q and K (q_norm / k_norm, over the head dim) before RoPE; upstream Doge has it.</summary>
    [JsonPropertyName("qk_norm")] public bool QkNorm { get; set; }

    [JsonIgnore] public bool IsLegacy => Layout == Legacy;

    /// <summary>Hm, the number of mask heads (rows of <c>dt_proj</c>, length of <c>A</c>).</summary>
    public int MaskHeads(int numAttentionHeads, int numKvHeads) => IsLegacy ? numAttentionHeads : numKvHeads;

    public void Validate()
    {
        static void Req(bool ok, string msg) { if (!ok) throw new ConfigException("dma." + msg); }
        Req(KeepWindowSize > 0, $"keep_window_size must be positive, got {KeepWindowSize}");
        Req(KnownLayouts.Contains(Layout), $"layout '{Layout}' is not known (known: {string.Join(", ", KnownLayouts)})");
    }
}
