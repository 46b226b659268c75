using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>How queries may see keys in one attention call. Built once per forward and shared by all layers.</summary>
public sealed class KeyMask : IDisposable
{
    /// <summary>Bool mask (true = attend), shape [T, Tk] or [B, 1, T, Tk]; null when <see cref="IsCausal"/> or no mask.</summary>
    public Tensor? Mask { get; }
    public bool IsCausal { get; }

    private KeyMask(Tensor? mask, bool causal) { Mask = mask; IsCausal = causal; }

    /// <summary>
    /// Mask for T new queries on top of <paramref name="past"/> cached keys. Key j is visible to query i iff
    /// j ≤ past + i (bottom-right aligned) and key j is a real token (<paramref name="attentionMask"/> [B, ≥ past+T], true = real); a query always sees itself, so rows of
    /// padding never become fully masked (which would give NaN).
    /// </summary>
    public static KeyMask Build(long t, long past, Tensor? attentionMask, Device device)
    {
        if (attentionMask is null)
        {
            if (past == 0) return new KeyMask(null, causal: true);
            if (t == 1) return new KeyMask(null, causal: false);
        }
        using var scope = NewDisposeScope();
        long tk = past + t;
        var i = arange(t, device: device).unsqueeze(1);
        var j = arange(tk, device: device).unsqueeze(0);
        var causal = j.le(i.add(past)); // [T, Tk]
        Tensor mask = causal;
        if (attentionMask is not null)
        {
            var diag = j.eq(i.add(past));
            mask = causal.unsqueeze(0).logical_and(attentionMask.narrow(1, 0, tk).unsqueeze(1)).logical_or(diag.unsqueeze(0)).unsqueeze(1);
        }
        return new KeyMask(mask.MoveToOuterDisposeScope(), causal: false);
    }

    /// <summary>Wraps an explicit bool mask [B, 1, T, Tk] (true = attend), e.g. block-diagonal causal for packed sequences; takes ownership.</summary>
    public static KeyMask FromBool(Tensor mask) => new(mask, causal: false);

    public void Dispose() => Mask?.Dispose();
}
