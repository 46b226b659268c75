// The single place HybridSharp calls libtorch's fused SDPA:  O = softmax(Q·Kᵀ/√P + M)·V.
// TorchSharp 0.107 quirks handled here: the flag is spelled `is_casual`, its causal mask is top-left aligned
// (wrong for a query block on top of a cache), and there is no GQA support (AttendGrouped folds or expands K/V).
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>How queries may see keys in one attention call. Built once per forward and shared by all layers.</summary>
public sealed class AttentionMask : IDisposable
{
    /// <summary>Bool mask (true = attend), shape [T, Tk] or [B, 1, T, Tk]; null when <see cref="IsCausal"/> or no mask.</summary>
    public Tensor? Mask { get; }
    public bool IsCausal { get; }

    private AttentionMask(Tensor? mask, bool causal) { Mask = mask; IsCausal = causal; }

    /// <summary>
    /// Mask for T new queries on top of <paramref name="past"/> cached keys. Key j is visible to query i iff
    /// j ≤ past + i (bottom-right aligned) and key j is a real token; a query always sees itself, so rows of
    /// padding never become fully masked (which would give NaN).
    /// </summary>
    public static AttentionMask Build(long t, long past, Tensor? keyValid, Device device)
    {
        if (keyValid is null)
        {
            if (past == 0) return new AttentionMask(null, causal: true);
            if (t == 1) return new AttentionMask(null, causal: false);
        }
        using var scope = NewDisposeScope();
        long tk = past + t;
        var i = arange(t, device: device).unsqueeze(1);
        var j = arange(tk, device: device).unsqueeze(0);
        var causal = j.le(i.add(past)); // [T, Tk]
        Tensor mask = causal;
        if (keyValid is not null)
        {
            var diag = j.eq(i.add(past));
            mask = causal.unsqueeze(0).logical_and(keyValid.narrow(1, 0, tk).unsqueeze(1)).logical_or(diag.unsqueeze(0)).unsqueeze(1);
        }
        return new AttentionMask(mask.MoveToOuterDisposeScope(), causal: false);
    }

    /// <summary>Wraps an explicit bool mask [B, 1, T, Tk] (true = attend), e.g. block-diagonal causal for packed sequences; takes ownership.</summary>
    public static AttentionMask FromBool(Tensor mask) => new(mask, causal: false);

    public void Dispose() => Mask?.Dispose();
}

/// <summary>The SDPA wrapper.</summary>
public static class ScaledDotProductAttention
{
    /// <summary>q [B, H, T, P], k/v [B, H, Tk, P] (already expanded to H heads).</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, AttentionMask mask)
    {
        // Positional flag: TorchSharp names it `is_casual` today; a future release renames it.
        return nn.functional.scaled_dot_product_attention(q, k, v, mask.Mask, 0.0, mask.IsCausal);
    }

    /// <summary>
    /// Grouped-query attention: q [B, Hkv·g, T, P], k/v [B, Hkv, Tk, P]; query head i reads KV head ⌊i/g⌋. For one
    /// unmasked query token (decode) the g query heads of a KV head are folded into g queries of that head, so the
    /// cache is read in place; otherwise K/V are expanded to every query head.
    /// </summary>
    public static Tensor AttendGrouped(Tensor q, Tensor k, Tensor v, long groups, AttentionMask mask)
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
