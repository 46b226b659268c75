// Pre-norm decoder block (GPT-2 / Llama), optionally with the learnable residual vectors of Doge / Cheems / TransXSSM:
//   h = r₁ ⊙ h + Mixer(RMSNorm(h));   h = r₂ ⊙ h + FFN(RMSNorm(h))
// with r₁ = input_residual, r₂ = post_attention_residual ∈ ℝ^d initialised to 1 (plain pre-norm when disabled).
// OTCE Expresser tail (arXiv 2406.16495), on the layers listed in expresser_layers, h₀ = block input:
//   h = h₀ + Mixer(RMSNorm(h₀));  h = h + FFN(RMSNorm(h));  h = RMSNorm_pd(h) + h₀;  h = projection(act(dense(h)))
// with pre_dense_layernorm = RMSNorm_pd and dense, projection ∈ ℝ^{d×d}; no residual around dense/projection.
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>
/// One layer: a sequence mixer (chosen by <c>layer_types</c> through <see cref="MixerRegistry"/>) and an optional FFN
/// (chosen by <c>mlp_types</c>).
/// </summary>
public sealed class DecoderLayer : nn.Module
{
    // Checkpoint names: input_layernorm, {self_attn | mamba} (the registry entry's name), post_attention_layernorm, mlp,
    // input_residual, post_attention_residual, pre_dense_layernorm, dense, projection. Registered by hand in that order
    // (parameters first, then submodules, as TorchSharp enumerates them) in the RegisterComponents override, because the
    // mixer's name depends on its kind (TorchSharp's own RegisterComponents would use the field names).
    private readonly RmsNorm _inputLayernorm;
    private readonly ISequenceMixer _mixer;
    private readonly RmsNorm? _postAttentionLayernorm;
    private readonly nn.Module<Tensor, Tensor>? _mlp;   // SwiGluMlp, OtceMlp, CrossDomainMoe, MultiHeadCrossDomainMoe, MixtureOfExperts or OtceMoe
    private readonly Parameter? _inputResidual, _postAttentionResidual;
    private readonly RmsNorm? _preDenseLayernorm;     // OTCE Expresser
    private readonly Linear? _dense, _projection;

    private readonly string _act = "silu";
    private readonly string _mixerName;
    private bool _registered;

    public int Index { get; }
    public string MixerType { get; }
    public string FfnType { get; }

    public DecoderLayer(ModelConfig cfg, int index) : base("DecoderLayer")
    {
        Index = index;
        MixerType = cfg.LayerType(index);
        FfnType = cfg.MlpType(index);
        var kind = MixerRegistry.Get(MixerType);
        _mixerName = kind.CheckpointName;
        _inputLayernorm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
        _mixer = kind.Create(cfg, index);
        if (FfnType != FfnTypes.None)
        {
            _postAttentionLayernorm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
            _mlp = FfnType switch
            {
                FfnTypes.Mlp => new SwiGluMlp(cfg),
                FfnTypes.OtceMlp => new OtceMlp(cfg),
                FfnTypes.OtceMoe => new OtceMoe(cfg, cfg.Moe!),
                FfnTypes.CdMoe => new CrossDomainMoe(cfg, cfg.Moe!),
                FfnTypes.CdMoeMultiHead => new MultiHeadCrossDomainMoe(cfg, cfg.Moe!),
                FfnTypes.TopKMoe => new MixtureOfExperts(cfg, cfg.Moe!),
                _ => throw new ConfigException($"layer {index}: FFN '{FfnType}' is not available"),
            };
        }
        if (cfg.UseResidualVectors)
        {
            _inputResidual = nn.Parameter(ones(cfg.HiddenSize));
            if (_mlp is not null) _postAttentionResidual = nn.Parameter(ones(cfg.HiddenSize));
        }
        if (cfg.IsExpresser(index))
        {
            _act = cfg.HiddenAct;
            _preDenseLayernorm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
            _dense = nn.Linear(cfg.HiddenSize, cfg.HiddenSize, hasBias: false);
            _projection = nn.Linear(cfg.HiddenSize, cfg.HiddenSize, hasBias: false);
        }

        RegisterComponents();
    }

    protected override void RegisterComponents()
    {
        if (_registered) return;
        _registered = true;
        if (_inputResidual is not null) register_parameter("input_residual", _inputResidual);
        if (_postAttentionResidual is not null) register_parameter("post_attention_residual", _postAttentionResidual);
        register_module("input_layernorm", _inputLayernorm);
        register_module(_mixerName, (nn.Module)_mixer);
        if (_postAttentionLayernorm is not null) register_module("post_attention_layernorm", _postAttentionLayernorm);
        if (_mlp is not null) register_module("mlp", _mlp);
        if (_preDenseLayernorm is not null)
        {
            register_module("pre_dense_layernorm", _preDenseLayernorm);
            register_module("dense", _dense!);
            register_module("projection", _projection!);
        }
    }

    /// <summary>This layer's sequence mixer.</summary>
    public ISequenceMixer Mixer => _mixer;

    /// <summary>True when this layer ends with the OTCE Expresser tail.</summary>
    public bool IsExpresser => _dense is not null;

    /// <summary>The routed FFN of this layer, or null.</summary>
    public IMoeLayer? Moe => _mlp as IMoeLayer;

    /// <summary>
    /// The managed one-token step of this layer, or null with the reason when its mixer or tail has none (the tensor
    /// path then decodes the model). An FFN without managed kernels runs its tensor forward inside the step.
    /// </summary>
    public unsafe (LayerDecodeStep? Step, string? Missing) CreateDecodeStep(MatrixStore weights)
    {
        if (_mixer is not IDecodeStepSource<IMixerDecodeStep> mixerSource || mixerSource.CreateDecodeStep(weights) is not { } mixer)
            return (null, $"the {MixerType} mixer");
        int hidden = (int)_inputLayernorm.Weight.size(0);
        IFfnDecodeStep? ffn = null;
        if (_mlp is not null)
            ffn = (_mlp as IDecodeStepSource<IFfnDecodeStep>)?.CreateDecodeStep(weights) ?? new TensorFfnStep(_mlp, hidden);
        ExpresserDecodeStep? tail = null;
        if (_dense is not null)
        {
            if (!RowOps.Supports(_act)) return (null, $"the Expresser tail's {_act} activation");
            tail = new ExpresserDecodeStep(hidden, _preDenseLayernorm!.Eps, TensorMemory.Float32(_preDenseLayernorm.Weight), weights.Get(_dense.weight!),
                weights.Get(_projection!.weight!), _act);
        }
        return (new LayerDecodeStep(hidden, _inputLayernorm.Eps, TensorMemory.Float32(_inputLayernorm.Weight), mixer,
            TensorMemory.Float32OrNull(_inputResidual), TensorMemory.Float32OrNull(_postAttentionLayernorm?.Weight), ffn,
            TensorMemory.Float32OrNull(_postAttentionResidual), tail), null);
    }

    /// <summary>
    /// h [B, T, d] → [B, T, d]. <paramref name="inputs"/>: what the mixer reads (shared by all layers of one call); its
    /// attention mask also keeps padding out of MoE statistics. <paramref name="routing"/>, when given, receives this
    /// layer's MoE routing statistics (auxiliary loss).
    /// </summary>
    public Tensor Forward(Tensor h, MixerInputs inputs, MoeRoutingCollector? routing = null)
    {
        using var scope = NewDisposeScope();
        var h0 = h;
        var mixed = _mixer.Forward(_inputLayernorm.forward(h), inputs);
        // Residuals accumulate into the fresh mixer/FFN output in place (one tensor op fewer per residual; no
        // autograd formula of a mixer's or FFN's last op needs its own output).
        h = _inputResidual is null ? mixed.add_(h) : mixed.addcmul_(h, _inputResidual, 1);
        if (_mlp is not null)
        {
            var normed = _postAttentionLayernorm!.forward(h);
            var f = _mlp is IMoeLayer moe ? moe.Forward(normed, routing, inputs.AttentionMask) : _mlp.forward(normed);
            h = _postAttentionResidual is null ? f.add_(h) : f.addcmul_(h, _postAttentionResidual, 1);
        }
        if (_dense is not null)
        {
            h = _preDenseLayernorm!.forward(h).add(h0);
            h = _projection!.forward(MoeOps.Activate(_dense.forward(h), _act));
        }
        return h.MoveToOuterDisposeScope();
    }
}
