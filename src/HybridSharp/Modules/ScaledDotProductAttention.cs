// The single place HybridSharp calls libtorch's fused SDPA:  O = softmax(Q·Kᵀ/√P + M)·V.
// TorchSharp 0.107 quirks handled here: the flag is spelled `is_casual`, its causal mask is top-left aligned
// (wrong for a query block on top of a cache), and there is no GQA support (AttendGrouped folds or expands K/V).
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>The SDPA wrapper.</summary>
public static class ScaledDotProductAttention
{
    /// <summary>q [B, H, T, P], k/v [B, H, Tk, P] (already expanded to H heads).</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, KeyMask mask)
    {
        // Positional flag: TorchSharp names it `is_casual` today; a future release renames it.
        return nn.functional.scaled_dot_product_attention(q, k, v, mask.Mask, 0.0, mask.IsCausal);
    }

    /// <summary>
    /// Grouped-query attention: q [B, Hkv·g, T, P], k/v [B, Hkv, Tk, P]; query head i reads KV head ⌊i/g⌋. For one
    /// unmasked query token (decode) the g query heads of a KV head are folded into g queries of that head, so the
    /// cache is read in place; otherwise K/V are expanded to every query head.
    /// </summary>
    public static Tensor AttendGrouped(Tensor q, Tensor k, Tensor v, long groups, KeyMask mask)
    {
        long b = q.size(0), h = q.size(1), t = q.size(2), p = q.size(3);
        if (groups > 1 && t == 1 && mask.Mask is null && !mask.IsCausal)
            return Attend(q.reshape(b, h / groups, groups, p), k, v, mask).reshape(b, h, 1, p);
        return Attend(q, RepeatKv(k, groups), RepeatKv(v, groups), mask);
    }

    /// <summary>q [B, H, T, P], k/v [B, H, Tk, P] with an additive float mask broadcastable to [B, H, T, Tk] (−∞ = masked).</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor floatMask) =>
        nn.functional.scaled_dot_product_attention(q, k, v, floatMask, 0.0, false);

    /// <summary>Expands [B, Hkv, S, P] to [B, Hkv·g, S, P]: KV head j serves query heads j·g … j·g+g−1.</summary>
    public static Tensor RepeatKv(Tensor x, long groups)
    {
        if (groups == 1) return x.alias();
        long b = x.shape[0], h = x.shape[1], s = x.shape[2], p = x.shape[3];
        return x.unsqueeze(2).expand(b, h, groups, s, p).reshape(b, h * groups, s, p);
    }
}
