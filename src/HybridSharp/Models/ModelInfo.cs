using HybridSharp.Config;
using HybridSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Models;

/// <summary>One layer's size and cost.</summary>
/// <param name="SequenceFlopsPerToken">Forward FLOPs per token of the mixing itself (attention scores and A·V,
/// or the SSD chunked scan), excluding projections.</param>
/// <param name="TrainingSequenceFlopsPerToken">The mixing term of the training FLOPs (see <see cref="MixerCost"/>).</param>
/// <param name="CacheBytesPerSequence">Decode cache of one sequence at the context length (fp32 activations).</param>
public sealed record LayerInfo(int Index, string Mixer, string Ffn, long Parameters, double ForwardFlopsPerToken, double SequenceFlopsPerToken,
    double TrainingSequenceFlopsPerToken, long CacheBytesPerSequence);

/// <summary>
/// Parameter counts, FLOPs per token and decode-cache size, computed from the configuration alone (no weights needed);
/// each mixer's share comes from its <see cref="MixerRegistry"/> entry. Forward FLOPs per token = 2 × matmul
/// parameters + each mixer's sequence term (attention: 2·2·H·P·(T/2), scores and A·V over a causal context averaged
/// over positions; DMA the same over at most w keys; SSD the chunked scan; Mamba-1 ≈ 7·d_in·N). Training FLOPs per
/// token use the PaLM / nanoGPT convention 6·N + 12·H·P·T per attention-type layer (no causal saving) plus 3 × the
/// scan FLOPs of state-space layers; MFU figures are based on them.
/// </summary>
public sealed record ModelInfo(ModelConfig Config, int Context, IReadOnlyList<LayerInfo> Layers, long EmbeddingParameters, long HeadParameters, long FinalNormParameters)
{
    public long TotalParameters => EmbeddingParameters + HeadParameters + FinalNormParameters + Layers.Sum(l => l.Parameters);
    public long NonEmbeddingParameters => TotalParameters - EmbeddingParameters;
    /// <summary>Matmul parameters including the LM head (counted once when tied).</summary>
    public long MatmulParameters => Layers.Sum(l => l.Parameters) + Config.VocabSize * (long)Config.HiddenSize;
    public double ForwardFlopsPerToken => Layers.Sum(l => l.ForwardFlopsPerToken) + 2.0 * Config.VocabSize * Config.HiddenSize;
    public double TrainingFlopsPerToken => 6.0 * MatmulParameters + Layers.Sum(l => l.TrainingSequenceFlopsPerToken);
    /// <summary>Bytes of the decode cache of one sequence of <see cref="Context"/> tokens (KV caches grow with it, state-space states do not).</summary>
    public long CacheBytesPerSequence => Layers.Sum(l => l.CacheBytesPerSequence);

    public static ModelInfo For(ModelConfig cfg, int context)
    {
        cfg.Resolve();
        long d = cfg.HiddenSize;
        const ScalarType dtype = ScalarType.Float32;   // models compute in fp32 unless converted
        var layers = new List<LayerInfo>();
        for (int i = 0; i < cfg.NumHiddenLayers; i++)
        {
            string mixer = cfg.LayerType(i), ffn = cfg.MlpType(i);
            var kind = MixerRegistry.Get(mixer);
            var cost = kind.Cost(cfg, context);
            var (ffnParams, ffnActive) = FfnParameters(cfg, ffn);
            long norms = d + (ffn == FfnTypes.None ? 0 : d);
            long residual = cfg.UseResidualVectors ? d * (ffn == FfnTypes.None ? 1 : 2) : 0;
            long expresser = cfg.IsExpresser(i) ? 2 * d * d : 0;   // dense + projection (+ pre_dense_layernorm below)
            double flops = 2.0 * (cost.Parameters + ffnActive + expresser) + cost.SequenceFlopsPerToken;
            layers.Add(new LayerInfo(i, mixer, ffn, cost.Parameters + ffnParams + norms + residual + expresser + (expresser > 0 ? d : 0),
                flops, cost.SequenceFlopsPerToken, cost.TrainingSequenceFlopsPerToken, kind.CacheBytes(cfg, context, dtype)));
        }
        long emb = (long)cfg.VocabSize * d;
        long head = cfg.TieWordEmbeddings ? 0 : cfg.VocabSize * d;
        return new ModelInfo(cfg, context, layers, emb, head, d);
    }

    /// <summary>(stored parameters, parameters a token actually multiplies with) of one layer's FFN.</summary>
    private static (long Stored, long Active) FfnParameters(ModelConfig cfg, string ffn)
    {
        long d = cfg.HiddenSize, inter = cfg.IntermediateSize;
        long dense = 3 * d * inter + (cfg.MlpBias ? 2 * inter + d : 0);
        if (ffn == FfnTypes.None) return (0, 0);
        if (ffn is FfnTypes.Mlp or FfnTypes.OtceMlp) return (dense, dense);
        var m = cfg.Moe!;
        long e = m.NumExperts, keys = m.NumKeys, k = m.NumExpertsPerTok;
        switch (ffn)
        {
            case FfnTypes.CdMoe:
                return (dense + 2 * keys * d + 2 * e * d, dense + 2 * keys * d + 2 * k * d);
            case FfnTypes.CdMoeMultiHead:
            {
                long heads = m.NumCdmoeHeads, r = m.ExpertRetrievalSize, perHead = m.NumCdmoeExpertsPerHead;
                long router = heads * r * d + heads * keys * r;
                return (dense + router + 2 * e * d, dense + router + 2 * heads * perHead * d);
            }
            case FfnTypes.TopKMoe:
            {
                long ie = m.ExpertIntermediateSize(cfg.IntermediateSize);
                return (e * d + e * 3 * d * ie, e * d + k * 3 * d * ie);
            }
            case FfnTypes.OtceMoe:
            {
                long half = inter / 2, bias = cfg.MlpBias ? 1 : 0;
                if (m.OtceMoeKind == MoeConfig.OtceCohesive)
                {
                    long sharedUp = half * d + bias * half, expert = 2 * half * d + bias * (half + d);
                    return (e * d + sharedUp + e * expert, e * d + sharedUp + k * expert);
                }
                long shared = 3 * d * inter + bias * (2 * inter + d), privateExpert = 3 * half * d + bias * (2 * half + d) + d;
                return (e * d + shared + e * privateExpert, e * d + shared + k * privateExpert);
            }
            default:
                throw new ConfigException($"unknown FFN type '{ffn}'");
        }
    }
}
