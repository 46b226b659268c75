// Grouped-query causal self-attention with RoPE (Vaswani et al. 2017; GQA: Ainslie et al. 2023), Llama layout:
//   Q = x·W_qᵀ → [B,H,T,P],  K, V = x·W_kᵀ, x·W_vᵀ → [B,Hkv,T,P]
//   Q, K ← rot_pos(Q), rot_pos(K) (shared rotary table, absolute positions);  K, V appended to the KV cache
//   with logn_scaling (OTCE): Q_t ← s_t·Q_t,  s_t = max(1, ln(64 + i_t)/ln 4096),  i_t = position + 1 (see LognScaling)
//   O = softmax(Q·Kᵀ/√P + mask)·V with query head h reading KV head ⌊h/g⌋, g = H/Hkv;  out = concat(O)·W_oᵀ
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Caching;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>GQA attention. Weight names: q_proj, k_proj, v_proj, o_proj (HF Llama convention).</summary>
public sealed class Attention : nn.Module, ISequenceMixer, IDecodeStepSource<IMixerDecodeStep>
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
#pragma warning restore IDE1006
    private readonly long _heads, _kvHeads, _headDim;
    private readonly int _layerIndex;

    public Attention(ModelConfig cfg, int layerIndex = 0) : base("Attention")
    {
        _layerIndex = layerIndex;
        _heads = cfg.NumAttentionHeads;
        _kvHeads = cfg.NumKvHeads;
        _headDim = cfg.HeadDim;
        q_proj = nn.Linear(cfg.HiddenSize, _heads * _headDim, hasBias: cfg.AttentionBias);
        k_proj = nn.Linear(cfg.HiddenSize, _kvHeads * _headDim, hasBias: cfg.AttentionBias);
        v_proj = nn.Linear(cfg.HiddenSize, _kvHeads * _headDim, hasBias: cfg.AttentionBias);
        o_proj = nn.Linear(_heads * _headDim, cfg.HiddenSize, hasBias: cfg.AttentionBias);
        RegisterComponents();
    }

    /// <summary>
    /// x [B, T, d] → [B, T, d]. Reads the rotary table, the key mask (null = causal on top of the cache), the cache and
    /// the logn factor from <paramref name="inputs"/>.
    /// </summary>
    public Tensor Forward(Tensor x, MixerInputs inputs)
    {
        using var scope = NewDisposeScope();
        long b = x.size(0), t = x.size(1);
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, inputs.Cos, inputs.Sin);
        if (inputs.Logn is { } logn) q = q.mul(logn.unsqueeze(1).unsqueeze(-1)).to_type(x.dtype); // product in fp32, then x's dtype
        k = RotaryEmbedding.Apply(k, inputs.Cos, inputs.Sin);
        var cache = inputs.Cache;
        if (cache is not null)
        {
            var layerCache = cache.LayerCache(_layerIndex, () => new KvCache(b, _kvHeads, cache.Capacity, _headDim, x.dtype, x.device));
            (k, v) = cache.RowLengths is { } rows ? layerCache.AppendRows(k, v, rows, cache.MaxRowLength) : layerCache.Append(k, v, cache.Length);
        }
        using var ownMask = inputs.KeyMask is null ? KeyMask.Build(t, k.size(2) - t, null, x.device) : null;
        long g = _heads / _kvHeads;
        var o = ScaledDotProductAttention.AttendGrouped(q, k, v, g, inputs.KeyMask ?? ownMask!);
        var y = o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The managed one-token step over the same weights (packed ones from <paramref name="weights"/>).</summary>
    public unsafe IMixerDecodeStep? CreateDecodeStep(MatrixStore weights) =>
        new AttentionDecodeStep(_layerIndex, (int)_heads, (int)_kvHeads, (int)_headDim, (int)q_proj.weight!.size(1),
            weights.Get(q_proj.weight!), weights.Get(k_proj.weight!), weights.Get(v_proj.weight!), weights.Get(o_proj.weight!),
            TensorMemory.Float32OrNull(q_proj.bias), TensorMemory.Float32OrNull(k_proj.bias), TensorMemory.Float32OrNull(v_proj.bias),
            TensorMemory.Float32OrNull(o_proj.bias));

    /// <summary>q, k, v, o projections; scores and A·V over a causal context (4·H·P·T/2 forward, 12·H·P·T in training).</summary>
    public static MixerCost Cost(ModelConfig cfg, int context)
    {
        long d = cfg.HiddenSize, h = cfg.NumAttentionHeads, kv = cfg.NumKvHeads, p = cfg.HeadDim;
        long parameters = d * h * p + 2 * d * kv * p + h * p * d + (cfg.AttentionBias ? h * p + 2 * kv * p + d : 0);
        return new MixerCost(parameters, 2.0 * 2.0 * h * p * (context / 2.0), 12.0 * h * p * context);
    }

    /// <summary>Keys and values of <paramref name="capacity"/> tokens: 2·Hkv·capacity·P elements.</summary>
    public static long CacheBytes(ModelConfig cfg, long capacity, ScalarType dtype) =>
        2L * cfg.NumKvHeads * capacity * cfg.HeadDim * MixerRegistry.ElementBytes(dtype);
}
