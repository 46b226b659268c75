// Grouped-query causal self-attention with RoPE (Vaswani et al. 2017; GQA: Ainslie et al. 2023), Llama layout:
//   Q = x·W_qᵀ → [B,H,T,P],  K, V = x·W_kᵀ, x·W_vᵀ → [B,Hkv,T,P]
//   Q, K ← rot_pos(Q), rot_pos(K) (shared rotary table, absolute positions);  K, V appended to the KV cache
//   with logn_scaling (OTCE): Q_t ← s_t·Q_t,  s_t = max(1, ln(64 + i_t)/ln 4096),  i_t = position + 1 (see LognScaling)
//   O = softmax(Q·Kᵀ/√P + mask)·V with query head h reading KV head ⌊h/g⌋, g = H/Hkv;  out = concat(O)·W_oᵀ
using HybridSharp.Config;
using HybridSharp.Inference;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>GQA attention. Weight names: q_proj, k_proj, v_proj, o_proj (HF Llama convention).</summary>
public sealed class Attention : nn.Module
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
#pragma warning restore IDE1006
    private readonly long _heads, _kvHeads, _headDim;

    public Attention(ModelConfig cfg) : base("Attention")
    {
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
    /// x [B, T, d]; cos/sin [B, T, P]; cache slot null in training. <paramref name="logn"/> [B, T] (or [1, T]): the OTCE
    /// logn factor per query token (fp32, fp64 for fp64 models), null = 1.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, AttentionMask mask, InferenceCache? cache, int layerIndex, Tensor? logn = null)
    {
        using var scope = NewDisposeScope();
        long b = x.size(0), t = x.size(1);
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        if (logn is not null) q = q.mul(logn.unsqueeze(1).unsqueeze(-1)).to_type(x.dtype); // product in fp32, then x's dtype
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null)
        {
            var slot = cache.LayerCache(layerIndex, () => new KvCache(b, _kvHeads, cache.Capacity, _headDim, x.dtype, x.device));
            (k, v) = cache.RowLengths is { } rows ? slot.AppendRows(k, v, rows, cache.MaxRowLength) : slot.Append(k, v, cache.Length);
        }
        long g = _heads / _kvHeads;
        var o = ScaledDotProductAttention.AttendGrouped(q, k, v, g, mask);
        var y = o_proj.forward(o.transpose(1, 2).reshape(b, t, _heads * _headDim));
        return y.MoveToOuterDisposeScope();
    }
}
