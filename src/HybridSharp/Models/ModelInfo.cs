using HybridSharp.Config;

namespace HybridSharp.Models;

/// <summary>One layer's size and cost.</summary>
/// <param name="SequenceFlopsPerToken">Forward FLOPs per token of the mixing itself (attention scores and A·V,
/// or the SSD chunked scan), excluding projections.</param>
public sealed record LayerInfo(int Index, string Mixer, string Ffn, long Parameters, double ForwardFlopsPerToken, double SequenceFlopsPerToken);

/// <summary>
/// Parameter counts and FLOPs per token, computed from the configuration alone (no weights needed).
/// Forward FLOPs per token = 2 × matmul parameters + the attention term 2·2·H·P·(T/2) per attention layer
/// (scores and A·V over a causal context of T tokens, averaged over positions), or the chunked-SSD scan cost of
/// per SSD layer, or the selective scan per Mamba-1 layer (≈ 7·d_in·N per token: decay exp and
/// multiply, Δ·x⊗B, state update, C contraction; plus the conv). Training FLOPs per token use the PaLM / nanoGPT
/// convention 6·N + 12·L_attn·H·P·T (no causal saving) plus 3 × the SSD / Mamba-1 scan FLOPs, which MFU figures are based on.
/// </summary>
public sealed record ModelInfo(ModelConfig Config, int Context, IReadOnlyList<LayerInfo> Layers, long EmbeddingParameters, long HeadParameters, long FinalNormParameters)
{
    public long TotalParameters => EmbeddingParameters + HeadParameters + FinalNormParameters + Layers.Sum(l => l.Parameters);
    public long NonEmbeddingParameters => TotalParameters - EmbeddingParameters;
    /// <summary>Matmul parameters including the LM head (counted once when tied).</summary>
    public long MatmulParameters => Layers.Sum(l => l.Parameters) + Config.VocabSize * (long)Config.HiddenSize;
    public double ForwardFlopsPerToken => Layers.Sum(l => l.ForwardFlopsPerToken) + 2.0 * Config.VocabSize * Config.HiddenSize;
    public double TrainingFlopsPerToken =>
        6.0 * MatmulParameters
        + Layers.Count(l => l.Mixer == ModelConfig.Attention) * 12.0 * Config.NumAttentionHeads * Config.HeadDim * Context
        + Layers.Where(l => l.Mixer is ModelConfig.Ssd or ModelConfig.Mamba1).Sum(l => 3.0 * l.SequenceFlopsPerToken);

    public static ModelInfo For(ModelConfig cfg, int context)
    {
        long d = cfg.HiddenSize, h = cfg.NumAttentionHeads, kv = cfg.NumKvHeads, p = cfg.HeadDim, inter = cfg.IntermediateSize;
        var layers = new List<LayerInfo>();
        for (int i = 0; i < cfg.NumHiddenLayers; i++)
        {
            string mixer = cfg.LayerType(i), ffn = cfg.MlpType(i);
            double seqFlops = 0;
            long mixerParams;
            if (mixer == ModelConfig.Ssd)
            {
                var s = cfg.Ssm!;
                long din = s.InnerSize(cfg.HiddenSize), sh = s.NumHeads(cfg.HiddenSize), sp = s.HeadDim, n = s.StateSize;
                long cconv = s.ConvChannels(cfg.HiddenSize);
                long inProj = ((s.Gated ? din : 0) + cconv + sh) * d;
                long conv = s.ConvKernel > 0 ? cconv * s.ConvKernel + (s.UseConvBias ? cconv : 0) : 0;
                long scalars = sh * (s.UseD ? 3 : 2);
                mixerParams = inProj + (s.UseBias ? (s.Gated ? din : 0) + cconv + sh : 0) + conv + scalars + (s.Gated ? din : 0) + din * d;
                long q = s.ChunkSize;
                // chunked SSD: 2·[Q·N·H + Q·P·H + 2·P·N·H] per token + inter-chunk passing; conv 2·K·C
                seqFlops = 2.0 * (q * n * sh + q * sp * sh + 2.0 * sp * n * sh) + 2.0 * (context / (double)q) * sh * sp * n / q + 2.0 * s.ConvKernel * cconv;
            }
            else if (mixer == ModelConfig.Mamba1)
            {
                var s = cfg.SelectiveScan ?? new Mamba1Config();
                long din = s.InnerSize(cfg.HiddenSize), n = s.StateSize, r = s.Rank(cfg.HiddenSize), k = s.ConvKernel;
                long bias = s.UseProjBias ? 2 * din + din + d : 0;   // in_proj, dt_proj, out_proj biases
                mixerParams = 2 * din * d + din * k + (s.UseConvBias ? din : 0) + (r + 2 * n) * din + din * r
                    + din * n + din + (s.InnerLayernorms ? r + 2 * n : 0) + d * din + bias;
                seqFlops = 7.0 * din * n + 2.0 * k * din;
            }
            else
            {
                mixerParams = d * h * p + 2 * d * kv * p + h * p * d + (cfg.AttentionBias ? h * p + 2 * kv * p + d : 0);
                seqFlops = 2.0 * 2.0 * h * p * (context / 2.0);
                if (mixer == ModelConfig.DmaMixer)
                {
                    var dma = cfg.Dma ?? new DmaConfig();
                    long mh = dma.MaskHeads(cfg.NumAttentionHeads, cfg.NumKvHeads);
                    mixerParams += mh + mh * kv * p + (cfg.AttentionBias ? mh : 0) + (dma.QkNorm ? 2 * p : 0);
                    seqFlops = 2.0 * 2.0 * h * p * (Math.Min(context, dma.KeepWindowSize) / 2.0);
                }
            }
            var (ffnParams, ffnActive) = FfnParameters(cfg, ffn);
            long norms = d + (ffn == ModelConfig.NoFfn ? 0 : d);
            long residual = cfg.UseResidualVectors ? d * (ffn == ModelConfig.NoFfn ? 1 : 2) : 0;
            long expresser = cfg.IsExpresser(i) ? 2 * d * d : 0;   // dense + projection (+ pre_dense_layernorm below)
            double flops = 2.0 * (mixerParams + ffnActive + expresser) + seqFlops;
            layers.Add(new LayerInfo(i, mixer, ffn, mixerParams + ffnParams + norms + residual + expresser + (expresser > 0 ? d : 0), flops, seqFlops));
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
        if (ffn == ModelConfig.NoFfn) return (0, 0);
        if (ffn is ModelConfig.Mlp or ModelConfig.OtceMlp) return (dense, dense);
        var m = cfg.Moe!;
        long e = m.NumExperts, keys = m.NumKeys, k = m.NumExpertsPerTok;
        switch (ffn)
        {
            case MoeConfig.CdMoe:
                return (dense + 2 * keys * d + 2 * e * d, dense + 2 * keys * d + 2 * k * d);
            case MoeConfig.CdMoeMultiHead:
            {
                long heads = m.NumCdmoeHeads, r = m.ExpertRetrievalSize, perHead = m.NumCdmoeExpertsPerHead;
                long router = heads * r * d + heads * keys * r;
                return (dense + router + 2 * e * d, dense + router + 2 * heads * perHead * d);
            }
            case MoeConfig.TopKMoe:
            {
                long ie = m.ExpertIntermediateSize(cfg.IntermediateSize);
                return (e * d + e * 3 * d * ie, e * d + k * 3 * d * ie);
            }
            case MoeConfig.OtceMoe:
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
