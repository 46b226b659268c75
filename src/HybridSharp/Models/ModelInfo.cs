using HybridSharp.Config;

namespace HybridSharp.Models;

/// <summary>One layer's size and cost.</summary>
public sealed record LayerInfo(int Index, string Mixer, string Ffn, long Parameters, double ForwardFlopsPerToken);

/// <summary>
/// Parameter counts and FLOPs per token, computed from the configuration alone (no weights needed).
/// Forward FLOPs per token = 2 × matmul parameters + the attention term 2·2·H·P·(T/2) per attention layer
/// (scores and A·V over a causal context of T tokens, averaged over positions). Training FLOPs per token use the
/// PaLM / nanoGPT convention 6·N + 12·L_attn·H·P·T (no causal saving) that MFU figures are based on.
/// </summary>
public sealed record ModelInfo(ModelConfig Config, int Context, IReadOnlyList<LayerInfo> Layers, long EmbeddingParameters, long HeadParameters, long FinalNormParameters)
{
    public long TotalParameters => EmbeddingParameters + HeadParameters + FinalNormParameters + Layers.Sum(l => l.Parameters);
    public long NonEmbeddingParameters => TotalParameters - EmbeddingParameters;
    /// <summary>Matmul parameters including the LM head (counted once when tied).</summary>
    public long MatmulParameters => Layers.Sum(l => l.Parameters) + Config.VocabSize * (long)Config.HiddenSize;
    public double ForwardFlopsPerToken => Layers.Sum(l => l.ForwardFlopsPerToken) + 2.0 * Config.VocabSize * Config.HiddenSize;
    public double TrainingFlopsPerToken =>
        6.0 * MatmulParameters + Layers.Count(l => l.Mixer == ModelConfig.Attention) * 12.0 * Config.NumAttentionHeads * Config.HeadDim * Context;

    public static ModelInfo For(ModelConfig cfg, int context)
    {
        long d = cfg.HiddenSize, h = cfg.NumAttentionHeads, kv = cfg.NumKvHeads, p = cfg.HeadDim, inter = cfg.IntermediateSize;
        var layers = new List<LayerInfo>();
        for (int i = 0; i < cfg.NumHiddenLayers; i++)
        {
            string mixer = cfg.LayerType(i), ffn = cfg.MlpType(i);
            long mixerParams = mixer switch
            {
                ModelConfig.Attention => d * h * p + 2 * d * kv * p + h * p * d + (cfg.AttentionBias ? h * p + 2 * kv * p + d : 0),
                _ => 0,
            };
            long ffnParams = ffn == ModelConfig.NoFfn ? 0 : 3 * d * inter + (cfg.MlpBias ? 2 * inter + d : 0);
            long norms = d + (ffn == ModelConfig.NoFfn ? 0 : d);
            long residual = cfg.UseResidualVectors ? d * (ffn == ModelConfig.NoFfn ? 1 : 2) : 0;
            double flops = 2.0 * (mixerParams + ffnParams);
            if (mixer == ModelConfig.Attention) flops += 2.0 * 2.0 * h * p * (context / 2.0);
            layers.Add(new LayerInfo(i, mixer, ffn, mixerParams + ffnParams + norms + residual, flops));
        }
        long emb = cfg.VocabSize * d;
        long head = cfg.TieWordEmbeddings ? 0 : cfg.VocabSize * d;
        return new ModelInfo(cfg, context, layers, emb, head, d);
    }
}
