using HybridSharp.Config;
using HybridSharp.Modules;
using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;
using HybridSharp.Caching;
using HybridSharp.Kernels;

namespace HybridSharp.Models;

/// <summary>
/// The decoder stack under <c>model.*</c>: token embeddings, layers, final norm (HF naming).
/// </summary>
public sealed class DecoderBackbone : nn.Module
{
#pragma warning disable IDE1006 // field names are checkpoint names
    internal readonly Embedding embed_tokens;
    internal readonly ModuleList<DecoderLayer> layers;
    internal readonly RmsNorm norm;
#pragma warning restore IDE1006

    public DecoderBackbone(ModelConfig cfg) : base("DecoderBackbone")
    {
        embed_tokens = nn.Embedding(cfg.VocabSize, cfg.HiddenSize);
        layers = new ModuleList<DecoderLayer>();
        for (int i = 0; i < cfg.NumHiddenLayers; i++) layers.Add(new DecoderLayer(cfg, i));
        norm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
        RegisterComponents();
    }
}

/// <summary>
/// Causal language model: embed → layers → RMSNorm → LM head (tied to the embeddings when
/// <c>tie_word_embeddings</c>). One rotary table is shared by all layers. Works for training (no cache),
/// prefill, chunked prefill on a cache, and one-token decode.
/// </summary>
public sealed partial class CausalLM : nn.Module
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly DecoderBackbone model;
    private readonly Linear? lm_head;
#pragma warning restore IDE1006

    public ModelConfig Config { get; }
    public RotaryEmbedding Rotary { get; }
    /// <summary>
    /// Rotary table of dimension N for Mamba-1 layers with RoPE on B and C (OTCE: same θ, scaling and positions as
    /// attention); null when there are none or N equals the attention head dim (then <see cref="Rotary"/> serves both).
    /// </summary>
    public RotaryEmbedding? StateRotary { get; }
    public IReadOnlyList<DecoderLayer> Layers => model.layers.ToList();

    /// <summary>Builds a model with freshly initialised weights. Call outside any dispose scope.</summary>
    public CausalLM(ModelConfig cfg, long seed = 1234) : base("CausalLM")
    {
        Config = cfg.Resolve();
        Rotary = new RotaryEmbedding(cfg.HeadDim, cfg.RopeTheta, cfg.RopeScaling, cfg.MaxPositionEmbeddings);
        if (cfg.Mamba1 is { Rope: true } scan && cfg.UsesMixer(MixerTypes.Mamba1) && scan.StateSize != cfg.HeadDim)
            StateRotary = new RotaryEmbedding(scan.StateSize, cfg.RopeTheta, cfg.RopeScaling, cfg.MaxPositionEmbeddings);
        model = new DecoderBackbone(cfg);
        if (!cfg.TieWordEmbeddings) lm_head = nn.Linear(cfg.HiddenSize, cfg.VocabSize, hasBias: false);
        RegisterComponents();
        InitializeWeights(seed);
    }

    /// <summary>
    /// normal(0, initializer_range) for linear and embedding weights; residual-stream output projections
    /// (o_proj, down_proj, out_proj) scaled by 1/√(2·layers) (GPT-2); biases 0; norms and residual vectors 1.
    /// </summary>
    public void InitializeWeights(long seed)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gen = new Generator((ulong)seed);
        double std = Config.InitializerRange;
        double residualStd = std / Math.Sqrt(2.0 * Config.NumHiddenLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith(".bias")) p.zero_();
            else if (name.EndsWith("norm.weight") || name.EndsWith("_residual")) p.fill_(1.0);
            else if (name.EndsWith("mlp.keys")) p.zero_();   // multi-head CDMoE product keys start at zero
            else if (name.EndsWith("o_proj.weight") || name.EndsWith("down_proj.weight") || name.EndsWith("out_proj.weight"))
                p.normal_(0, residualStd, gen);
            else if (p.dim() >= 2 && !name.Contains(".conv1d.")) p.normal_(0, std, gen);
        }
        foreach (var layer in model.layers) layer.Mixer.InitializeParameters(gen);
        gen.Dispose();
    }

    /// <summary>The packed (bf16 / int8) inference copies of the weight matrices; empty for fp32 weights.</summary>
    public MatrixStore Weights { get; } = new();

    /// <summary>The format the weight matrices are held in for inference (<see cref="PackWeights"/>).</summary>
    public WeightFormat WeightFormat => Weights.Format;

    /// <summary>
    /// Packs every linear layer's weight matrix and the LM head as bf16 or int8 for the managed decode path, and rounds
    /// the fp32 weights to the values the packed copies stand for, so that prefill, scoring and decoding all compute
    /// with the same (rounded) model. Norms, biases, convolutions, SSM parameters and embeddings of an untied head stay
    /// fp32. fp32 does nothing. Irreversible for this instance: reload the model for the original weights.
    /// </summary>
    public void PackWeights(WeightFormat format)
    {
        if (format == WeightFormat.Float32) return;
        if (LmHeadWeight.dtype != ScalarType.Float32 || LmHeadWeight.device_type != DeviceType.CPU)
            throw new InvalidOperationException("packed weights need an fp32 model on the CPU");
        using var _ = no_grad();
        foreach (var module in modules())
            if (module is Linear linear) Weights.Pack(linear.weight!, format);
        Weights.Pack(LmHeadWeight, format);
    }

    internal Tensor EmbeddingWeight => model.embed_tokens.weight!;
    internal Tensor FinalNormWeight => model.norm.Weight;

    /// <summary>Tied or untied output projection weight [V, d].</summary>
    public Tensor LmHeadWeight => lm_head?.weight ?? model.embed_tokens.weight!;

    /// <summary>
    /// Final hidden states [B, T, d] for <paramref name="inputIds"/> [B, T].
    /// <paramref name="attentionMask"/> [B, T] (1 = real token, 0 = padding) is only needed for padded batches.
    /// <paramref name="positions"/> [B, T] defaults to past … past+T−1 (or, with padding, counts real tokens only).
    /// </summary>
    public Tensor ForwardHidden(Tensor inputIds, InferenceCache? cache = null, Tensor? attentionMask = null, Tensor? positions = null,
        MoeRoutingCollector? routing = null)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.size(0), t = inputIds.size(1);
        long past = cache?.Length ?? 0;
        var device = inputIds.device;
        bool explicitPositions = positions is not null;

        Tensor? keyMask = null;            // [B, past+T] bool, true = real token; null = no padding anywhere
        KeyMask? slotMask = null;
        if (cache?.RowLengths is { } rowLengths)
        {
            // Slot mode: row b holds rowLengths[b] tokens of its own sequence (no padding) and writes the new ones after them.
            cache.MarkValid(attentionMask, t);
            positions ??= rowLengths.unsqueeze(1).add(arange(t, dtype: ScalarType.Int64, device: device).unsqueeze(0)); // [B, T]
            var keyIndex = arange(cache.MaxRowLength + t, dtype: ScalarType.Int64, device: device).view(1, 1, 1, -1);
            slotMask = KeyMask.FromBool(keyIndex.le(positions.view(b, 1, t, 1)));                                // [B, 1, T, Tk]
        }
        else if (cache is not null)
        {
            cache.MarkValid(attentionMask, t);
            if (cache.HasPadding) keyMask = cache.AttentionMask;
        }
        else if (attentionMask is not null && !attentionMask.to_type(ScalarType.Bool).all().item<bool>())
        {
            keyMask = attentionMask.to_type(ScalarType.Bool);
        }

        if (positions is null)
        {
            if (keyMask is not null)
            {
                // Position = number of real tokens before this one (left padding does not count).
                var real = keyMask.narrow(1, 0, past + t).to_type(ScalarType.Int64);
                positions = real.cumsum(1).sub_(1).clamp_min_(0).narrow(1, past, t);
            }
            else
            {
                positions = arange(past, past + t, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(b, t);
            }
        }

        var h = model.embed_tokens.forward(inputIds);
        long? bound = explicitPositions ? null : (cache?.RowLengths is not null ? cache.MaxRowLength : past) + t - 1;
        using var mask = slotMask ?? KeyMask.Build(t, past, keyMask, device);
        var inputs = Inputs(positions, h.dtype, bound, mask, cache, keyMask?.narrow(1, past, t));
        foreach (var layer in model.layers) h = layer.Forward(h, inputs, routing);
        h = model.norm.forward(h);
        cache?.Advance(t);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What every layer reads besides the hidden states: the rotary tables (and the state-dimension one for Mamba-1) and
    /// the OTCE logn factor at <paramref name="positions"/> [B, T], with the key mask, cache, this call's attention mask
    /// and packed-example ids. <paramref name="lognBound"/>: a host bound on the largest position (null = unknown).
    /// </summary>
    private MixerInputs Inputs(Tensor positions, ScalarType dtype, long? lognBound, KeyMask keyMask, InferenceCache? cache,
        Tensor? attentionMask, Tensor? documentIds = null)
    {
        var (cos, sin) = Rotary.Compute(positions, dtype);
        Tensor? stateCos = null, stateSin = null;
        if (StateRotary is not null) (stateCos, stateSin) = StateRotary.Compute(positions, dtype);
        // OTCE logn factor [B, T]: only when switched on and some position reaches 4032 (a host bound avoids any op below).
        var logn = Config.LognScaling ? LognScaling.Factors(positions.dim() == 1 ? positions.unsqueeze(0) : positions, dtype, lognBound) : null;
        return new MixerInputs
        {
            Cos = cos, Sin = sin, StateCos = stateCos, StateSin = stateSin, KeyMask = keyMask, Cache = cache,
            AttentionMask = attentionMask, Logn = logn, DocumentIds = documentIds,
        };
    }

    /// <summary>Token embeddings [B, T, d] of <paramref name="inputIds"/> (the first piece of <see cref="ForwardHidden"/>).</summary>
    public Tensor Embed(Tensor inputIds) => model.embed_tokens.forward(inputIds);

    /// <summary>The final RMSNorm (the last piece of <see cref="ForwardHidden"/>).</summary>
    public Tensor FinalNorm(Tensor hidden) => model.norm.forward(hidden);

    /// <summary>Projects hidden states to fp32 logits.</summary>
    public Tensor Head(Tensor hidden)
    {
        var logits = nn.functional.linear(hidden, LmHeadWeight);
        return logits.dtype == ScalarType.Float32 ? logits : logits.to_type(ScalarType.Float32);
    }

    /// <summary>Logits [B, T, V] (fp32).</summary>
    public Tensor Forward(Tensor inputIds, InferenceCache? cache = null, Tensor? attentionMask = null, Tensor? positions = null)
    {
        using var scope = NewDisposeScope();
        return Head(ForwardHidden(inputIds, cache, attentionMask, positions)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mean next-token cross-entropy; <paramref name="targets"/> uses −100 for ignored positions. In training mode, models
    /// with MoE FFNs add <c>router_aux_loss_coef</c> · the Switch load-balancing loss pooled over all MoE layers.
    /// </summary>
    public Tensor Loss(Tensor inputIds, Tensor targets)
    {
        using var scope = NewDisposeScope();
        double coef = Config.Moe?.RouterAuxLossCoef ?? 0;
        using var routing = training && coef > 0 && model.layers.Any(l => l.Moe is not null) ? new MoeRoutingCollector() : null;
        var logits = Head(ForwardHidden(inputIds, routing: routing));
        var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), targets.view(-1), ignore_index: -100);
        if (routing is { Count: > 0 })
        {
            var aux = routing.AuxLoss();
            LastLoadBalanceLoss = aux.item<float>();
            loss = loss.add(aux.mul(coef));
        }
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Switch load-balancing loss of the last training-mode <see cref="Loss"/> (1 = perfectly even routing, up to the
    /// expert count when every token picks the same expert); null for models without MoE FFNs. The trainer logs it.
    /// </summary>
    public double? LastLoadBalanceLoss { get; private set; }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Weights.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>A fresh decode cache for this model.</summary>
    public InferenceCache NewCache(long batch, long capacity) =>
        new(batch, capacity, Config.NumHiddenLayers, LmHeadWeight.device);

    /// <summary>Parameter count; <paramref name="nonEmbedding"/> excludes the token embedding (but keeps an untied head).</summary>
    public long ParameterCount(bool nonEmbedding = false)
    {
        long n = 0;
        foreach (var (name, p) in named_parameters())
            if (!nonEmbedding || name != "model.embed_tokens.weight") n += p.numel();
        return n;
    }
}
