// Dynamic Mask Attention (DMA) of Wonderful Matrices (arXiv 2412.11834) and Doge / SmallDoge (SmallDoges/small-doge,
// HF transformers DogeAttention), eager semantics:
//   Q = x·W_qᵀ → [B,H,T,P],  K, V = x·W_kᵀ, x·W_vᵀ → [B,Hkv,T,P];  optional Q, K ← RMSNorm_P (q_norm / k_norm), then RoPE
//   Δ = softplus(dt_proj(V_flat)) [B,Tk,Hm] from the unrotated values of every visible key (cached per key when decoding)
//   β[b,m,j] = exp(A_m·Δ[b,j,m])                          (query-independent, added to the logits)
//   M[b,m,i,j] = β[b,m,j] if key j is visible to query i (causal, not padding), else min_dtype
//   if a row has more than w = keep_window_size visible keys: keep its w largest entries of M, the rest → min_dtype
//   upstream layout: Hm = Hkv, mask head j serves query heads j·g … j·g+g−1;  legacy layout: Hm = H (one per query head)
//   O = softmax_fp32(Q·Kᵀ/√P + M)·V (query head h reads KV head ⌊h/g⌋);  out = concat(O)·W_oᵀ
// With A = 0, β ≡ 1 is a constant row shift, so DMA equals plain attention while no row exceeds the window.
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Caching;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>
/// Dynamic Mask Attention. Weight names (under <c>self_attn.</c>): q_proj, k_proj, v_proj, o_proj, optional
/// q_norm / k_norm, <c>A</c> [Hm] and <c>dt_proj</c> [Hm, Hkv·P]; Hm = Hkv (upstream)
/// or H (legacy).
/// </summary>
public sealed class DynamicMaskAttention : nn.Module, ISequenceMixer, IDecodeStepSource<IMixerDecodeStep>
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
    private readonly RmsNorm? q_norm, k_norm;
    private readonly Parameter A;
    private readonly Linear dt_proj;
#pragma warning restore IDE1006
    private readonly long _heads, _kvHeads, _headDim, _maskHeads;
    private readonly bool _legacy;
    private readonly int _layerIndex;

    /// <summary>The DMA mixer of layer <paramref name="layerIndex"/>; <paramref name="dma"/> as resolved and validated by <see cref="ModelConfig.Resolve"/>.</summary>
    public DynamicMaskAttention(ModelConfig cfg, DmaConfig dma, int layerIndex = 0) : base("DynamicMaskAttention")
    {
        _layerIndex = layerIndex;
        _heads = cfg.NumAttentionHeads;
        _kvHeads = cfg.NumKvHeads;
        _headDim = cfg.HeadDim;
        _legacy = dma.IsLegacy;
        _maskHeads = dma.MaskHeads(cfg.NumAttentionHeads, cfg.NumKvHeads);
        KeepWindowSize = dma.KeepWindowSize;
        q_proj = nn.Linear(cfg.HiddenSize, _heads * _headDim, hasBias: cfg.AttentionBias);
        k_proj = nn.Linear(cfg.HiddenSize, _kvHeads * _headDim, hasBias: cfg.AttentionBias);
        v_proj = nn.Linear(cfg.HiddenSize, _kvHeads * _headDim, hasBias: cfg.AttentionBias);
        o_proj = nn.Linear(_heads * _headDim, cfg.HiddenSize, hasBias: cfg.AttentionBias);
        if (dma.QkNorm)
        {
            q_norm = new RmsNorm(_headDim, cfg.RmsNormEps);
            k_norm = new RmsNorm(_headDim, cfg.RmsNormEps);
        }
        A = nn.Parameter(zeros(_maskHeads));
        dt_proj = nn.Linear(_kvHeads * _headDim, _maskHeads, hasBias: cfg.AttentionBias);
        RegisterComponents();
    }

    public long Heads => _heads;
    public long KvHeads => _kvHeads;
    public long HeadDim => _headDim;
    /// <summary>Hm: KV heads (upstream layout) or query heads (legacy layout).</summary>
    public long MaskHeads => _maskHeads;
    public bool IsLegacyLayout => _legacy;
    /// <summary>w: the most keys a query row keeps once more are visible.</summary>
    public int KeepWindowSize { get; }

    /// <summary>
    /// Always take the explicit path (top-k with k = min(w, Tk), matmul, fp32 softmax) instead of fused SDPA when
    /// no row exceeds the window. For tests and debugging; the results are equal up to rounding.
    /// </summary>
    public bool ForceEager { get; set; }

    /// <summary>
    /// x [B, T, d] → [B, T, d]. Reads the rotary table, the key mask (causality, padding, packed blocks; null = causal
    /// on top of the cache) and the cache from <paramref name="inputs"/>.
    /// </summary>
    public Tensor Forward(Tensor x, MixerInputs inputs)
    {
        var (cos, sin, cache) = (inputs.Cos, inputs.Sin, inputs.Cache);
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, _heads, _headDim);
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim);
        var vFlat = v_proj.forward(x); // [B, T, Hkv·P], unrotated
        if (q_norm is not null)
        {
            q = q_norm.forward(q);
            k = k_norm!.forward(k);
        }
        q = RotaryEmbedding.Apply(q.transpose(1, 2), cos, sin);
        k = RotaryEmbedding.Apply(k.transpose(1, 2), cos, sin);
        var v = vFlat.view(b, t, _kvHeads, _headDim).transpose(1, 2);
        var delta = nn.functional.softplus(dt_proj.forward(vFlat)).transpose(1, 2); // [B, Hm, T]

        long past = 0;
        if (cache is not null)
        {
            past = cache.Length;
            var layerCache = cache.LayerCache(_layerIndex, () => new DmaKvCache(b, _kvHeads, _maskHeads, cache.Capacity, _headDim, x.dtype, x.device));
            (k, v, delta) = cache.RowLengths is { } rows ? layerCache.AppendRows(k, v, delta, rows, cache.MaxRowLength) : layerCache.Append(k, v, delta, past);
        }
        long tk = k.shape[2];

        var visible = VisibleKeys(inputs.KeyMask, t, tk, x.device);
        long? keep = null;
        if (ForceEager) keep = Math.Min(KeepWindowSize, tk);
        else if (tk > KeepWindowSize && MaxVisible(visible, tk) > KeepWindowSize) keep = KeepWindowSize;

        var bias = DynamicMask(delta, A, visible, t, keep); // [B, Hm, T, Tk]
        long g = _heads / _kvHeads;
        if (!_legacy) bias = ScaledDotProductAttention.RepeatKv(bias, g);
        var kk = ScaledDotProductAttention.RepeatKv(k, g);
        var vv = ScaledDotProductAttention.RepeatKv(v, g);
        var o = keep is null ? AttendSdpa(q, kk, vv, bias) : AttendEager(q, kk, vv, bias);
        var y = o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The managed one-token step over the same weights (packed ones from <paramref name="weights"/>).</summary>
    public unsafe IMixerDecodeStep? CreateDecodeStep(MatrixStore weights) => new DmaDecodeStep
    {
        Layer = _layerIndex, Hidden = (int)q_proj.weight!.size(1), Heads = (int)_heads, KvHeads = (int)_kvHeads, HeadDim = (int)_headDim,
        MaskHeads = (int)_maskHeads, Legacy = _legacy, KeepWindow = KeepWindowSize, NormEps = q_norm?.Eps ?? 0,
        Wq = weights.Get(q_proj.weight!), Wk = weights.Get(k_proj.weight!), Wv = weights.Get(v_proj.weight!), Wo = weights.Get(o_proj.weight!),
        DtProj = weights.Get(dt_proj.weight!),
        Bq = TensorMemory.Float32OrNull(q_proj.bias), Bk = TensorMemory.Float32OrNull(k_proj.bias), Bv = TensorMemory.Float32OrNull(v_proj.bias),
        Bo = TensorMemory.Float32OrNull(o_proj.bias), DtBias = TensorMemory.Float32OrNull(dt_proj.bias), A = TensorMemory.Float32(A),
        QNorm = TensorMemory.Float32OrNull(q_norm?.Weight), KNorm = TensorMemory.Float32OrNull(k_norm?.Weight),
    };

    /// <summary>The most negative finite value of <paramref name="dtype"/> ("masked").</summary>
    public static double MinValue(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => double.MinValue,
        ScalarType.Float32 => float.MinValue,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float16 => -65504.0,
        _ => throw new NotSupportedException($"DMA needs a floating-point dtype, got {dtype}"),
    };

    /// <summary>
    /// The dynamic mask M [B, Hm, T, Tk] (dtype of <paramref name="delta"/>) from Δ [B, Hm, Tk] and A [Hm]:
    /// exp(A·Δ) where <paramref name="visible"/> (bool, broadcastable to [B, 1, T, Tk]; null = all) holds, else
    /// min_dtype; with <paramref name="keep"/> set, each row then keeps only its <paramref name="keep"/> largest entries.
    /// </summary>
    public static Tensor DynamicMask(Tensor delta, Tensor a, Tensor? visible, long t, long? keep)
    {
        using var scope = NewDisposeScope();
        long b = delta.shape[0], hm = delta.shape[1], tk = delta.shape[2];
        var beta = a.to_type(delta.dtype).view(1, hm, 1).mul(delta).exp_(); // [B, Hm, Tk]
        var m = beta.unsqueeze(2).expand(b, hm, t, tk);
        m = visible is null ? m.contiguous() : m.masked_fill(visible.logical_not(), MinValue(delta.dtype));
        if (keep is { } w) m = KeepLargest(m, w);
        return m.MoveToOuterDisposeScope();
    }

    /// <summary>Relative distance within which two dynamic-mask entries count as equal when choosing the kept keys.</summary>
    public static double TieTolerance(ScalarType dtype) => dtype == ScalarType.Float64 ? 1e-12 : 1e-5;

    /// <summary>
    /// Keeps the <paramref name="keep"/> largest entries of every row (last dim) of <paramref name="m"/> and sets the
    /// others to min_dtype. Entries within <see cref="TieTolerance"/> (relative) of the threshold count as tied, and
    /// ties go to the latest keys: a repeated token's β differs only by rounding (which changes with how many rows one
    /// matrix product holds), so a row gives the same choice in a full forward, a chunked prefill and one decode step at
    /// a time.
    /// </summary>
    public static Tensor KeepLargest(Tensor m, long keep)
    {
        using var scope = NewDisposeScope();
        long tk = m.shape[^1];
        if (keep >= tk) return m.alias().MoveToOuterDisposeScope();
        var threshold = m.topk((int)keep, dim: -1, largest: true, sorted: false).values.amin([-1], keepdim: true);
        var tolerance = threshold.abs().mul_(TieTolerance(m.dtype));
        var above = m.gt(threshold.add(tolerance));
        var need = above.sum([-1], keepdim: true, type: ScalarType.Int64).neg_().add_(keep); // ≥ 1
        var tied = m.ge(threshold.sub(tolerance)).logical_and_(above.logical_not());
        var tiedFromRight = tied.flip(-1).cumsum(-1, ScalarType.Int64).flip(-1); // ties at or after j
        var kept = above.logical_or_(tied.logical_and_(tiedFromRight.le(need)));
        return m.masked_fill(kept.logical_not_(), MinValue(m.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Bool [T, Tk] or [B, 1, T, Tk] (true = query i may see key j), or null when every key is visible.
    /// Causality is bottom-right aligned (key j visible to query i iff j ≤ past + i, past = Tk − T); a null mask means causal.
    /// </summary>
    private static Tensor? VisibleKeys(KeyMask? mask, long t, long tk, Device device)
    {
        long past = tk - t;
        Tensor? visible = mask?.Mask;
        if (visible is not null && visible.shape[^1] != tk)
            throw new ArgumentException($"key mask covers {visible.shape[^1]} keys, but {tk} are visible");
        if (visible is null && (mask is null || mask.IsCausal) && t > 1)
            visible = arange(tk, device: device).unsqueeze(0).le(arange(t, device: device).unsqueeze(1).add(past));
        return visible;
    }

    /// <summary>The largest number of visible keys in any query row (one host sync; only asked when Tk exceeds the window).</summary>
    private static long MaxVisible(Tensor? visible, long tk) =>
        visible is null ? tk : visible.sum([-1], type: ScalarType.Int64).max().item<long>();

    /// <summary>Fused SDPA with the float mask M (causality and padding folded in); the default scale 1/√P applies.</summary>
    private static Tensor AttendSdpa(Tensor q, Tensor k, Tensor v, Tensor bias) =>
        // Positional flag: TorchSharp names it `is_casual` today; a future release renames it.
        ScaledDotProductAttention.Attend(q, k, v, bias);

    /// <summary>Explicit path: S = Q·Kᵀ/√P + M; p = softmax(S) in fp32 (fp64 for fp64 models), cast back; O = p·V.</summary>
    public static Tensor AttendEager(Tensor q, Tensor k, Tensor v, Tensor bias)
    {
        using var scope = NewDisposeScope();
        var scores = q.matmul(k.transpose(-2, -1)).mul_(1.0 / Math.Sqrt(q.shape[^1])).add_(bias);
        var softType = q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var p = scores.softmax(-1, softType).to_type(q.dtype);
        return p.matmul(v).MoveToOuterDisposeScope();
    }

    /// <summary>Attention's projections plus A, dt_proj (and q_norm / k_norm); scores over at most w keys per query.</summary>
    public static MixerCost Cost(ModelConfig cfg, int context)
    {
        var attention = Attention.Cost(cfg, context);
        var dma = cfg.Dma!;
        long kv = cfg.NumKvHeads, p = cfg.HeadDim, h = cfg.NumAttentionHeads;
        long mh = dma.MaskHeads(cfg.NumAttentionHeads, cfg.NumKvHeads);
        long parameters = attention.Parameters + mh + mh * kv * p + (cfg.AttentionBias ? mh : 0) + (dma.QkNorm ? 2 * p : 0);
        long window = Math.Min(context, dma.KeepWindowSize);
        return new MixerCost(parameters, 2.0 * 2.0 * h * p * (window / 2.0), 12.0 * h * p * window);
    }

    /// <summary>Keys and values (2·Hkv·P) plus Δ (Hm) per cached token.</summary>
    public static long CacheBytes(ModelConfig cfg, long capacity, ScalarType dtype) =>
        Attention.CacheBytes(cfg, capacity, dtype)
        + cfg.Dma!.MaskHeads(cfg.NumAttentionHeads, cfg.NumKvHeads) * capacity * MixerRegistry.ElementBytes(dtype);
}
