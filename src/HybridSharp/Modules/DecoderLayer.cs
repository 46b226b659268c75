// Pre-norm decoder block (GPT-2 / Llama), optionally with the learnable residual vectors of Doge / Cheems / TransXSSM:
//   h = r₁ ⊙ h + Mixer(RMSNorm(h));   h = r₂ ⊙ h + FFN(RMSNorm(h))
// with r₁ = input_residual, r₂ = post_attention_residual ∈ ℝ^d initialised to 1 (plain pre-norm when disabled).
// OTCE Expresser tail (arXiv 2406.16495), on the layers listed in expresser_layers, h₀ = block input:
//   h = h₀ + Mixer(RMSNorm(h₀));  h = h + FFN(RMSNorm(h));  h = RMSNorm_pd(h) + h₀;  h = projection(act(dense(h)))
// with pre_dense_layernorm = RMSNorm_pd and dense, projection ∈ ℝ^{d×d}; no residual around dense/projection.
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
    private readonly nn.Module? mamba;   // SsdMixer or Mamba1Mixer: checkpoint name mamba either way
    private readonly RmsNorm? post_attention_layernorm;
    private readonly nn.Module<Tensor, Tensor>? mlp;   // SwiGluMlp, OtceMlp, CrossDomainMoE, MultiHeadCrossDomainMoE, MixtureOfExperts or OtceMoE
    private readonly Parameter? input_residual;
    private readonly Parameter? post_attention_residual;
    private readonly RmsNorm? pre_dense_layernorm;     // OTCE Expresser
    private readonly Linear? dense, projection;
#pragma warning restore IDE1006

    private readonly string _act = "silu";

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
            case ModelConfig.Mamba1: mamba = new Mamba1Mixer(cfg); break;
            default: throw new ConfigException($"layer {index}: mixer '{MixerType}' is not available");
        }
        if (FfnType != ModelConfig.NoFfn)
        {
            post_attention_layernorm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
            mlp = FfnType switch
            {
                ModelConfig.Mlp => new SwiGluMlp(cfg),
                ModelConfig.OtceMlp => new OtceMlp(cfg),
                MoeConfig.OtceMoe => new OtceMoE(cfg, cfg.Moe!),
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
        if (cfg.IsExpresser(index))
        {
            _act = cfg.HiddenAct;
            pre_dense_layernorm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
            dense = nn.Linear(cfg.HiddenSize, cfg.HiddenSize, hasBias: false);
            projection = nn.Linear(cfg.HiddenSize, cfg.HiddenSize, hasBias: false);
        }
        RegisterComponents();
    }

    /// <summary>The SSD mixer of this layer, or null.</summary>
    public SsdMixer? Ssd => mamba as SsdMixer;

    /// <summary>The Mamba-1 mixer of this layer, or null.</summary>
    public Mamba1Mixer? Mamba1 => mamba as Mamba1Mixer;

    /// <summary>True when this layer ends with the OTCE Expresser tail.</summary>
    public bool IsExpresser => dense is not null;

    /// <summary>The routed FFN of this layer, or null.</summary>
    public IMoeLayer? Moe => mlp as IMoeLayer;

    /// <summary>
    /// h [B, T, d]; cos/sin: the shared rotary table at the tokens' positions; <paramref name="validMask"/> [B, T]
    /// marks real tokens (null = all real) so SSD layers can skip left padding (and MoE statistics ignore it).
    /// <paramref name="routing"/>, when given, receives this layer's MoE routing statistics (auxiliary loss).
    /// <paramref name="stateCos"/>/<paramref name="stateSin"/>: the rotary table of dimension N for Mamba-1 layers
    /// (null = <paramref name="cos"/>/<paramref name="sin"/>, when N equals the attention head dim).
    /// <paramref name="logn"/> [B, T]: the OTCE logn factor (<see cref="LognScaling"/>) for attention Q and Mamba-1 C; null = 1.
    /// </summary>
    public Tensor Forward(Tensor h, Tensor cos, Tensor sin, AttentionMask mask, InferenceCache? cache, Tensor? validMask = null,
        MoeRoutingCollector? routing = null, Tensor? stateCos = null, Tensor? stateSin = null, Tensor? logn = null)
    {
        using var scope = NewDisposeScope();
        var h0 = h;
        var normed = input_layernorm.forward(h);
        var mixed = (self_attn, mamba) switch
        {
            (Attention a, _) => a.Forward(normed, cos, sin, mask, cache, Index, logn),
            (DynamicMaskAttention d, _) => d.Forward(normed, cos, sin, mask, cache, Index),
            (_, Mamba1Mixer m1) => m1.Forward(normed, stateCos ?? cos, stateSin ?? sin, cache, Index, validMask, logn),
            _ => ((SsdMixer)mamba!).Forward(normed, cos, sin, cache, Index, validMask),
        };
        // Residuals accumulate into the fresh mixer/FFN output in place (one tensor op fewer per residual; no
        // autograd formula of a mixer's or FFN's last op needs its own output).
        h = input_residual is null ? mixed.add_(h) : mixed.addcmul_(h, input_residual, 1);
        if (mlp is not null)
        {
            var normed2 = post_attention_layernorm!.forward(h);
            var f = mlp is IMoeLayer moe ? moe.Forward(normed2, routing, validMask) : mlp.forward(normed2);
            h = post_attention_residual is null ? f.add_(h) : f.addcmul_(h, post_attention_residual, 1);
        }
        if (dense is not null)
        {
            h = pre_dense_layernorm!.forward(h).add(h0);
            h = projection!.forward(MoeOps.Activate(dense.forward(h), _act));
        }
        return h.MoveToOuterDisposeScope();
    }
}
