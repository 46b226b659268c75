// Pre-norm decoder block (GPT-2 / Llama), optionally with the learnable residual vectors of Doge / Cheems / TransXSSM:
//   h = r₁ ⊙ h + Mixer(RMSNorm(h));   h = r₂ ⊙ h + FFN(RMSNorm(h))
// with r₁ = input_residual, r₂ = post_attention_residual ∈ ℝ^d initialised to 1 (plain pre-norm when disabled).
using HybridSharp.Config;
using HybridSharp.Inference;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>One layer: a sequence mixer (chosen by <c>layer_types</c>) and an optional FFN (chosen by <c>mlp_types</c>).</summary>
public sealed class DecoderLayer : nn.Module
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly RmsNorm input_layernorm;
    private readonly nn.Module? self_attn; // Attention or DynamicMaskAttention: checkpoint name self_attn either way
    private readonly SsdMixer? mamba;
    private readonly RmsNorm? post_attention_layernorm;
    private readonly nn.Module<Tensor, Tensor>? mlp;   // SwiGluMlp, CrossDomainMoE, MultiHeadCrossDomainMoE or MixtureOfExperts
    private readonly Parameter? input_residual;
    private readonly Parameter? post_attention_residual;
#pragma warning restore IDE1006

    public int Index { get; }
    public string MixerType { get; }
    public string FfnType { get; }

    public DecoderLayer(ModelConfig cfg, int index) : base("DecoderLayer")
    {
        Index = index;
        MixerType = cfg.LayerType(index);
        FfnType = cfg.MlpType(index);
        input_layernorm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
        switch (MixerType)
        {
            case ModelConfig.Attention: self_attn = new Attention(cfg); break;
            case ModelConfig.Ssd: mamba = new SsdMixer(cfg); break;
            case ModelConfig.DmaMixer: self_attn = new DynamicMaskAttention(cfg, cfg.Dma ?? new DmaConfig()); break;
            default: throw new ConfigException($"layer {index}: mixer '{MixerType}' is not available");
        }
        if (FfnType != ModelConfig.NoFfn)
        {
            post_attention_layernorm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
            mlp = FfnType switch
            {
                ModelConfig.Mlp => new SwiGluMlp(cfg),
                MoeConfig.CdMoe => new CrossDomainMoE(cfg, cfg.Moe!),
                MoeConfig.CdMoeMultiHead => new MultiHeadCrossDomainMoE(cfg, cfg.Moe!),
                MoeConfig.TopKMoe => new MixtureOfExperts(cfg, cfg.Moe!),
                _ => throw new ConfigException($"layer {index}: FFN '{FfnType}' is not available"),
            };
        }
        if (cfg.UseResidualVectors)
        {
            input_residual = nn.Parameter(ones(cfg.HiddenSize));
            if (mlp is not null) post_attention_residual = nn.Parameter(ones(cfg.HiddenSize));
        }
        RegisterComponents();
    }

    /// <summary>The SSD mixer of this layer, or null.</summary>
    public SsdMixer? Ssd => mamba;

    /// <summary>The routed FFN of this layer, or null.</summary>
    public IMoeLayer? Moe => mlp as IMoeLayer;

    /// <summary>
    /// h [B, T, d]; cos/sin: the shared rotary table at the tokens' positions; <paramref name="validMask"/> [B, T]
    /// marks real tokens (null = all real) so SSD layers can skip left padding (and MoE statistics ignore it).
    /// <paramref name="routing"/>, when given, receives this layer's MoE routing statistics (auxiliary loss).
    /// </summary>
    public Tensor Forward(Tensor h, Tensor cos, Tensor sin, AttentionMask mask, InferenceCache? cache, Tensor? validMask = null,
        MoeRoutingCollector? routing = null)
    {
        using var scope = NewDisposeScope();
        var normed = input_layernorm.forward(h);
        var mixed = self_attn switch
        {
            Attention a => a.Forward(normed, cos, sin, mask, cache, Index),
            DynamicMaskAttention d => d.Forward(normed, cos, sin, mask, cache, Index),
            _ => mamba!.Forward(normed, cos, sin, cache, Index, validMask),
        };
        h = input_residual is null ? h.add(mixed) : h.mul(input_residual).add_(mixed);
        if (mlp is not null)
        {
            var normed2 = post_attention_layernorm!.forward(h);
            var f = mlp is IMoeLayer moe ? moe.Forward(normed2, routing, validMask) : mlp.forward(normed2);
            h = post_attention_residual is null ? h.add(f) : h.mul(post_attention_residual).add_(f);
        }
        return h.MoveToOuterDisposeScope();
    }
}
