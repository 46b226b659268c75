using HybridSharp.Config;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// Size and cost of one mixer, from the configuration alone.
/// <paramref name="SequenceFlopsPerToken"/>: forward FLOPs per token of the mixing itself (attention scores and A·V over
/// a causal context averaged over positions, or the scan), excluding the projections, which count as 2 × parameters.
/// <paramref name="TrainingSequenceFlopsPerToken"/>: the same term in the training FLOPs that MFU is based on
/// (PaLM / nanoGPT: 12·H·P·T per attention layer, no causal saving; 3 × the forward scan for state-space layers).
/// </summary>
public readonly record struct MixerCost(long Parameters, double SequenceFlopsPerToken, double TrainingSequenceFlopsPerToken);

/// <summary>
/// Everything the rest of the library needs to know about one kind of mixer, keyed by its <c>layer_types</c> value.
/// </summary>
/// <param name="LayerType">The <c>layer_types</c> entry (<see cref="MixerTypes"/>).</param>
/// <param name="CheckpointName">The layer's submodule name in checkpoints: <c>self_attn</c> or <c>mamba</c>.</param>
/// <param name="Create">Builds the mixer of layer i (weights are initialised by the model afterwards).</param>
/// <param name="SupportsPacking">Whether it keeps packed examples apart (see <see cref="MixerInputs.DocumentIds"/>).</param>
/// <param name="Cost">Parameters and FLOPs per token at a context length.</param>
/// <param name="CacheBytes">Bytes of its decode cache for one sequence of a capacity, at the model's dtype.</param>
public sealed record MixerKind(
    string LayerType,
    string CheckpointName,
    Func<ModelConfig, int, ISequenceMixer> Create,
    bool SupportsPacking,
    Func<ModelConfig, int, MixerCost> Cost,
    Func<ModelConfig, long, ScalarType, long> CacheBytes);

/// <summary>
/// The mixers a model can use. Adding one = its mixer file (implementing <see cref="ISequenceMixer"/>, with static
/// cost and cache-size functions), its name in <see cref="MixerTypes"/>, and one entry here.
/// </summary>
public static class MixerRegistry
{
    public static readonly IReadOnlyList<MixerKind> All =
    [
        new(MixerTypes.Attention, "self_attn", (cfg, i) => new Attention(cfg, i), SupportsPacking: true,
            Attention.Cost, Attention.CacheBytes),
        new(MixerTypes.Ssd, "mamba", (cfg, i) => new SsdMixer(cfg, i), SupportsPacking: true,
            SsdMixer.Cost, SsdMixer.CacheBytes),
        new(MixerTypes.Dma, "self_attn", (cfg, i) => new DynamicMaskAttention(cfg, cfg.Dma!, i), SupportsPacking: true,
            DynamicMaskAttention.Cost, DynamicMaskAttention.CacheBytes),
        new(MixerTypes.Mamba1, "mamba", (cfg, i) => new Mamba1Mixer(cfg, i), SupportsPacking: true,
            Mamba1Mixer.Cost, Mamba1Mixer.CacheBytes),
    ];

    /// <summary>The kind named <paramref name="layerType"/>; a <see cref="ConfigException"/> for an unknown name.</summary>
    public static MixerKind Get(string layerType) =>
        All.FirstOrDefault(k => k.LayerType == layerType)
        ?? throw new ConfigException($"layer_types: unknown mixer '{layerType}' (known: {string.Join(", ", All.Select(k => k.LayerType))})");

    /// <summary>The kind of layer <paramref name="layer"/> of <paramref name="cfg"/>.</summary>
    public static MixerKind Of(ModelConfig cfg, int layer) => Get(cfg.LayerType(layer));

    /// <summary>True when every layer's mixer keeps packed examples apart.</summary>
    public static bool SupportsPacking(ModelConfig cfg) =>
        Enumerable.Range(0, cfg.NumHiddenLayers).All(i => Of(cfg, i).SupportsPacking);

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static long ElementBytes(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 => 2,
        _ => throw new NotSupportedException($"no cache size for dtype {dtype}"),
    };

    /// <summary>The dtype recurrent states are kept in: fp64 for fp64 models, fp32 otherwise.</summary>
    public static ScalarType StateType(ScalarType dtype) => dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}
