// Mamba-2 SSD mixer (Dao & Gu 2024, "Transformers are SSMs: Generalized Models and Efficient Algorithms Through
// Structured State Space Duality", arXiv 2405.21060), optionally with RoPE on C and B and without conv / gate — the
// stripped SSD of Cheems / Wonderful Matrices / TransXSSM (arXiv 2407.16958, 2412.11834, 2506.09507):
//   [z | xBC | dt_raw] = in_proj(u)                       (z only when gated)
//   xBC = SiLU(causal_depthwise_conv(xBC) + conv_bias)     (only when conv_kernel > 0; otherwise unchanged, no activation)
//   [x | B | C] = xBC;  B, C ← rot_pos(B), rot_pos(C)      (only with rope; shared rotary table, absolute positions)
//   dt = clamp(softplus(dt_raw + dt_bias)),  A = −exp(A_log)
//   h_t = e^{dt_t·A}·h_{t−1} + dt_t·x_t·B_tᵀ,  y_t = h_t·C_t + D·x_t    (chunked SSD, see SsdKernels)
//   y = GroupRMSNorm(y ⊙ SiLU(z)) ⊙ norm.weight           (only when gated; RMS per group of d_in/G channels)
//   out = out_proj(y)
// Left padding (attention mask = 0): xBC is zeroed before the conv and dt = 0, so a pad token neither decays nor writes the state.
using HybridSharp.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Caching;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>
/// SSD (Mamba-2) sequence mixer. Weight names: in_proj (packed z|x|B|C|dt), conv1d, dt_bias, A_log, D, norm, out_proj
/// (under <c>model.layers.{i}.mamba.</c>).
/// </summary>
public sealed class SsdMixer : nn.Module, ISequenceMixer, IDecodeStepSource<IMixerDecodeStep>
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear in_proj;
    private readonly Conv1d? conv1d;
    private readonly Parameter dt_bias;
    private readonly Parameter A_log;
    private readonly Parameter? D;
    private readonly RmsNorm? norm;
    private readonly Linear out_proj;
#pragma warning restore IDE1006

    private readonly long _dIn, _heads, _headDim, _stateSize, _groups, _convChannels, _zSize;
    private readonly int _kernel, _chunkSize;
    private readonly bool _rope;
    private readonly double _normEps, _dtMin, _dtMax, _dtFloor, _dtLimitLow, _dtLimitHigh;
    private readonly int _layerIndex;

    public SsdMixer(ModelConfig cfg, int layerIndex = 0) : base("SsdMixer")
    {
        _layerIndex = layerIndex;
        var s = cfg.Ssd ?? throw new ConfigException("an SSD layer needs the 'ssm' config section");
        long d = cfg.HiddenSize;
        _dIn = s.InnerSize(cfg.HiddenSize);
        _headDim = s.HeadDim;
        _heads = s.NumHeads(cfg.HiddenSize);
        _stateSize = s.StateSize;
        _groups = s.NGroups;
        _convChannels = s.ConvChannels(cfg.HiddenSize);
        _zSize = s.Gated ? _dIn : 0;
        _kernel = s.ConvKernel;
        _chunkSize = s.ChunkSize;
        _rope = s.Rope;
        _normEps = s.NormEps;
        (_dtMin, _dtMax, _dtFloor) = (s.DtMin, s.DtMax, s.DtInitFloor);
        (_dtLimitLow, _dtLimitHigh) = (s.TimeStepLimit[0], s.TimeStepLimit[1]);
        if (_heads * _headDim != _dIn || _heads % _groups != 0)
            throw new ConfigException($"ssm: head_dim {_headDim} / n_groups {_groups} do not fit d_in {_dIn}");

        in_proj = nn.Linear(d, _zSize + _convChannels + _heads, hasBias: s.UseBias);
        if (_kernel > 0)
            conv1d = nn.Conv1d(_convChannels, _convChannels, _kernel, padding: _kernel - 1, groups: _convChannels, bias: s.UseConvBias);
        dt_bias = nn.Parameter(zeros(_heads));
        A_log = nn.Parameter(zeros(_heads));
        if (s.UseD) D = nn.Parameter(ones(_heads));
        if (s.Gated) norm = new RmsNorm(_dIn, s.NormEps);
        out_proj = nn.Linear(_dIn, d, hasBias: false);
        RegisterComponents();
        InitializeSsm(null);
    }

    public long Heads => _heads;
    public long HeadDim => _headDim;
    public long StateSize => _stateSize;
    public long Groups => _groups;
    public long ConvChannels => _convChannels;
    public int ConvKernel => _kernel;

    /// <summary>
    /// Mamba-2 initialisation of the SSM scalars and the conv: dt_bias = softplus⁻¹(dt), dt = exp(U(ln dt_min,
    /// ln dt_max)) clamped ≥ dt_init_floor; A_log = ln U(1, 16); D = 1; conv1d weight and bias U(±1/√K) (PyTorch's
    /// default conv init, fan_in = K). in_proj, out_proj and norm weights are left to the model's generic init.
    /// </summary>
    public void InitializeParameters(Generator generator) => InitializeSsm(generator);

    private void InitializeSsm(Generator? gen)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        dt_bias.copy_(SsmInit.DtBias(_heads, _dtMin, _dtMax, _dtFloor, gen));
        A_log.copy_(empty(_heads, ScalarType.Float64).uniform_(1.0, 16.0, gen).log_());
        D?.fill_(1.0);
        if (conv1d is not null) SsmInit.ConvUniform(conv1d, _kernel, gen);
    }

    /// <summary>
    /// x [B, T, d] → [B, T, d]. From <paramref name="inputs"/>: cos/sin [B, T, N] (or [T, N]), the shared rotary table at
    /// the tokens' absolute positions (used only when rope is on); the cache (null = full chunked forward; otherwise this
    /// layer's <see cref="SsdCache"/> is created/updated: T = 1 → recurrent step, T &gt; 1 → chunked on top of the cached
    /// state; the caller advances the cache length); the attention mask [B, T] (1 = real token, 0 = left padding).
    /// Packed rows run example by example (<see cref="PackedExamples"/>), so no state flows from one example into the next.
    /// </summary>
    public Tensor Forward(Tensor x, MixerInputs inputs)
    {
        if (inputs.DocumentIds is not null) return PackedExamples.Run(this, x, inputs);   // each packed example from a zero state
        var (cos, sin, cache, attentionMask) = (inputs.Cos, inputs.Sin, inputs.Cache, inputs.AttentionMask);
        using var scope = NewDisposeScope();
        long b = x.size(0), t = x.size(1);
        if (t == 0) return zeros([b, 0, x.size(2)], x.dtype, x.device).MoveToOuterDisposeScope();
        var cdt = SsdKernels.ComputeType(x.dtype);

        SsdCache? state = null;
        if (cache is not null)
        {
            state = cache.LayerCache(_layerIndex, () => new SsdCache(b, _convChannels, _kernel, _heads, _headDim, _stateSize, x.dtype, x.device));
            if (state.Batch != b)
                throw new InvalidOperationException($"layer {_layerIndex}: SSD cache batch {state.Batch} ≠ input batch {b}");
        }

        if (state is not null && t == 1 && attentionMask is null && x.dtype == ScalarType.Float32 && !is_grad_enabled())
            return DecodeStep(x, cos, sin, state).MoveToOuterDisposeScope();

        var proj = in_proj.forward(x);                                   // [B, T, Z + C_conv + H]
        Tensor? z = _zSize > 0 ? proj.narrow(-1, 0, _zSize) : null;
        var xbc = proj.narrow(-1, _zSize, _convChannels);
        var dtRaw = proj.narrow(-1, _zSize + _convChannels, _heads);
        Tensor? mask = attentionMask?.to_type(x.dtype);

        if (conv1d is not null)
        {
            if (mask is not null) xbc = xbc.mul(mask.unsqueeze(-1));
            xbc = CausalConv(xbc, state);
        }

        var xs = xbc.narrow(-1, 0, _dIn).reshape(b, t, _heads, _headDim);
        var bc = xbc.narrow(-1, _dIn, 2 * _groups * _stateSize).reshape(b, t, 2 * _groups, _stateSize);
        if (_rope) bc = RotateBC(bc, cos, sin);
        var bMat = bc.narrow(2, 0, _groups);
        var cMat = bc.narrow(2, _groups, _groups);

        var dt = nn.functional.softplus(dtRaw.to_type(cdt).add(dt_bias.to_type(cdt)));   // [B, T, H]
        if (_dtLimitLow > 0 || !double.IsPositiveInfinity(_dtLimitHigh)) dt = dt.clamp(_dtLimitLow, _dtLimitHigh);
        if (mask is not null) dt = dt.mul(mask.to_type(cdt).unsqueeze(-1));
        var A = A_log.to_type(cdt).exp().neg();

        Tensor y;
        if (state is not null && t == 1)
        {
            y = SsdKernels.Step(xs.squeeze(1), dt.squeeze(1), A, bMat.squeeze(1), cMat.squeeze(1), state.SsmState).unsqueeze(1);
        }
        else
        {
            (y, var final) = SsdKernels.Chunked(xs, dt, A, bMat, cMat, _chunkSize, state?.SsmState);
            if (state is not null)
                using (no_grad()) state.SsmState.copy_(final);
        }
        if (D is not null) y = y.add(xs.mul(D.to_type(x.dtype).unsqueeze(-1)));
        y = y.reshape(b, t, _dIn);
        if (norm is not null) y = GatedGroupRmsNorm(y, z, norm.Weight, _groups, _normEps);
        return out_proj.forward(y).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One decode token (fp32, no padding, no autograd) with as few tensor operations as possible: on CPU a decode step
    /// of a small model is bound by per-operation overhead, not arithmetic. Same math as the general path and
    /// <see cref="SsdKernels.Step"/>: h ← e^{dt·A}·h + (dt·x) ⊗ B (in place on the cached state), y = h·C + D·x.
    /// </summary>
    private Tensor DecodeStep(Tensor x, Tensor cos, Tensor sin, SsdCache layerCache)
    {
        // size(i), not shape[i]: shape builds an array through one native call per dimension, microseconds per token.
        long b = x.size(0), r = _heads / _groups;
        var proj = in_proj.forward(x);                                   // [B, 1, Z + C_conv + H]
        Tensor? z = _zSize > 0 ? proj.narrow(-1, 0, _zSize) : null;
        var xbc = proj.narrow(-1, _zSize, _convChannels);
        if (conv1d is not null) xbc = CausalConv(xbc, layerCache);
        var xs = xbc.narrow(-1, 0, _dIn).reshape(b, _groups, r, _headDim, 1);
        var bc = xbc.narrow(-1, _dIn, 2 * _groups * _stateSize).reshape(b, 2 * _groups, _stateSize);
        if (_rope)
        {
            if (cos.size(-1) != _stateSize)
                throw new ArgumentException($"SSD rope: rotary table dim {cos.size(-1)} ≠ state_size {_stateSize}");
            var c = cos.reshape(-1, 1, _stateSize);                      // [B or 1, 1, N]
            var sn = sin.reshape(-1, 1, _stateSize);
            bc = RotaryEmbedding.Rotate(bc, c, sn);
        }
        var dt = nn.functional.softplus(proj.narrow(-1, _zSize + _convChannels, _heads).reshape(b, _heads).add(dt_bias));
        if (_dtLimitLow > 0 || !double.IsPositiveInfinity(_dtLimitHigh)) dt = dt.clamp(_dtLimitLow, _dtLimitHigh);
        var dt5 = dt.view(b, _groups, r, 1, 1);
        var decay = dt5.mul(A_log.exp().neg_().view(1, _groups, r, 1, 1)).exp_();
        var state = layerCache.SsmState.view(b, _groups, r, _headDim, _stateSize);
        state.mul_(decay).addcmul_(xs.mul(dt5), bc.narrow(1, 0, _groups).reshape(b, _groups, 1, 1, _stateSize), 1);
        // y[g, (r, p)] = Σ_n C[g, n] · h[g, (r, p), n]: C as a row times hᵀ, batched over (B, G). libtorch's CPU kernels
        // run this vector-times-matrix form ≈ 6× faster than h @ C (a matrix times a column vector) at N = P = 128.
        var y = bc.narrow(1, _groups, _groups).reshape(b * _groups, 1, _stateSize)
            .bmm(layerCache.SsmState.view(b * _groups, r * _headDim, _stateSize).transpose(1, 2))   // [B·G, 1, r·P]
            .view(b, _groups, r, _headDim, 1);
        if (D is not null) y = y.addcmul_(xs, D.view(1, _groups, r, 1, 1), 1);
        y = y.view(b, 1, _dIn);
        if (norm is not null) y = GatedGroupRmsNorm(y, z, norm.Weight, _groups, _normEps);
        return out_proj.forward(y);
    }

    /// <summary>The managed one-token step over the same weights (packed ones from <paramref name="weights"/>).</summary>
    public unsafe IMixerDecodeStep? CreateDecodeStep(MatrixStore weights) => new SsdDecodeStep
    {
        Layer = _layerIndex, Hidden = (int)in_proj.weight!.size(1), InnerSize = (int)_dIn, Heads = (int)_heads, HeadDim = (int)_headDim,
        StateSize = (int)_stateSize, Groups = (int)_groups, ConvChannels = (int)_convChannels, ZSize = (int)_zSize, Kernel = _kernel,
        Rope = _rope, NormEps = _normEps,
        DtLow = _dtLimitLow > 0 ? (float)_dtLimitLow : float.NegativeInfinity,
        DtHigh = double.IsPositiveInfinity(_dtLimitHigh) ? float.PositiveInfinity : (float)_dtLimitHigh,
        InProj = weights.Get(in_proj.weight!), InProjBias = TensorMemory.Float32OrNull(in_proj.bias),
        ConvWeight = conv1d is null ? null : TensorMemory.Float32(conv1d.weight!), ConvBias = TensorMemory.Float32OrNull(conv1d?.bias),
        DtBias = TensorMemory.Float32(dt_bias), ALog = TensorMemory.Float32(A_log), D = TensorMemory.Float32OrNull(D),
        NormWeight = TensorMemory.Float32OrNull(norm?.Weight), OutProj = weights.Get(out_proj.weight!),
    };

    /// <summary>
    /// Causal depthwise conv + SiLU over xbc [B, T, C_conv], computed in the [B, T, C] layout. Left context: the cached
    /// last K−1 inputs, or zeros. Updates the cached conv state ([B, C_conv, K]) with the last K inputs.
    /// </summary>
    private Tensor CausalConv(Tensor xbc, SsdCache? layerCache) =>
        nn.functional.silu(CausalDepthwiseConv.Apply(xbc, conv1d!.weight!, conv1d.bias, layerCache?.ConvState));

    /// <summary>Rotates B and C (packed as bc [B, T, 2G, N]) with cos/sin [B, T, N] or [T, N].</summary>
    private Tensor RotateBC(Tensor bc, Tensor cos, Tensor sin)
    {
        if (cos.shape[^1] != _stateSize)
            throw new ArgumentException($"SSD rope: rotary table dim {cos.shape[^1]} ≠ state_size {_stateSize}");
        Tensor c, s;
        if (cos.dim() == 2) { c = cos.unsqueeze(1).unsqueeze(0); s = sin.unsqueeze(1).unsqueeze(0); }
        else { c = cos.unsqueeze(2); s = sin.unsqueeze(2); }
        return RotaryEmbedding.Apply(bc, c, s);
    }

    /// <summary>
    /// Grouped gated RMSNorm (norm_before_gate = false), computed in fp32 (fp64 for fp64 inputs):
    /// y' = y ⊙ SiLU(z) (z may be null: no gate); each of the <paramref name="groups"/> contiguous groups of the last
    /// dimension is RMS-normalised separately; then multiplied by <paramref name="weight"/> [d_in]; cast back to y's dtype.
    /// </summary>
    public static Tensor GatedGroupRmsNorm(Tensor y, Tensor? z, Tensor weight, long groups, double eps)
    {
        using var scope = NewDisposeScope();
        var cdt = SsdKernels.ComputeType(y.dtype);
        var yf = y.to_type(cdt);
        if (z is not null) yf = yf.mul(nn.functional.silu(z.to_type(cdt)));
        var shape = yf.shape;
        var grouped = yf.reshape([.. shape[..^1], groups, shape[^1] / groups]);
        var inv = grouped.pow(2).mean([-1], keepdim: true).add_(eps).rsqrt_();
        var outp = grouped.mul(inv).reshape(shape).mul_(weight.to_type(cdt)).to_type(y.dtype);
        return outp.MoveToOuterDisposeScope();
    }

    /// <summary>in_proj, conv, dt_bias / A_log / D, gate norm and out_proj; the chunked scan (× 3 in training).</summary>
    public static MixerCost Cost(ModelConfig cfg, int context)
    {
        var s = cfg.Ssd!;
        int d = cfg.HiddenSize;
        long din = s.InnerSize(d), sh = s.NumHeads(d), sp = s.HeadDim, n = s.StateSize, cconv = s.ConvChannels(d);
        long inProj = ((s.Gated ? din : 0) + cconv + sh) * d;
        long conv = s.ConvKernel > 0 ? cconv * s.ConvKernel + (s.UseConvBias ? cconv : 0) : 0;
        long scalars = sh * (s.UseD ? 3 : 2);
        long parameters = inProj + (s.UseBias ? (s.Gated ? din : 0) + cconv + sh : 0) + conv + scalars + (s.Gated ? din : 0) + din * d;
        long q = s.ChunkSize;
        // chunked SSD: 2·[Q·N·H + Q·P·H + 2·P·N·H] per token + inter-chunk passing; conv 2·K·C
        double scan = 2.0 * (q * n * sh + q * sp * sh + 2.0 * sp * n * sh) + 2.0 * (context / (double)q) * sh * sp * n / q + 2.0 * s.ConvKernel * cconv;
        return new MixerCost(parameters, scan, 3.0 * scan);
    }

    /// <summary>Fixed size: the conv window [C_conv, K] at the model dtype and the state [H, P, N] in fp32 (fp64 for fp64 models).</summary>
    public static long CacheBytes(ModelConfig cfg, long capacity, ScalarType dtype)
    {
        var s = cfg.Ssd!;
        int d = cfg.HiddenSize;
        long conv = s.ConvKernel > 0 ? s.ConvChannels(d) * s.ConvKernel * MixerRegistry.ElementBytes(dtype) : 0;
        return conv + s.NumHeads(d) * s.HeadDim * s.StateSize * MixerRegistry.ElementBytes(MixerRegistry.StateType(dtype));
    }
}
