using static TorchSharp.torch;

namespace HybridSharp.Caching;

/// <summary>
/// Decode state of one Dynamic Mask Attention layer: the usual preallocated K/V cache [B, Hkv, capacity, P] plus
/// Δ = softplus(dt_proj(V)) per key and mask head, [B, Hm, capacity]. Δ depends only on the key's own value
/// vector, so it is computed once when the key is written. Everything is written in place
/// at [past, past+T); no per-step concatenation.
/// </summary>
public sealed class DmaKvCache : ILayerCache
{
    public KvCache Kv { get; }
    /// <summary>Δ per cached key: [B, Hm, capacity], activation dtype.</summary>
    public Tensor Delta { get; }

    public DmaKvCache(long batch, long kvHeads, long maskHeads, long capacity, long headDim, ScalarType dtype, Device device)
    {
        Kv = new KvCache(batch, kvHeads, capacity, headDim, dtype, device);
        Delta = zeros([batch, maskHeads, capacity], dtype, device).DetachFromDisposeScope();
    }

    private DmaKvCache(KvCache kv, Tensor delta)
    {
        Kv = kv;
        Delta = delta.DetachFromDisposeScope();
    }

    public ILayerCache Rows(long start, long count) => new DmaKvCache(Kv.RowsOf(start, count), Delta.narrow(0, start, count));

    /// <summary>Nothing to clear: keys and Δ beyond a row's length are never read.</summary>
    public void Reset() { }

    public void CopyRow(long from, long to, long length)
    {
        if (from == to || length == 0) return;
        Kv.CopyRow(from, to, length);
        using var scope = NewDisposeScope();
        using (no_grad()) Delta[to].narrow(1, 0, length).copy_(Delta[from].narrow(1, 0, length));
    }

    /// <summary>Slot mode: like <see cref="Append"/>, but row b writes at its own length (see <see cref="KvCache.AppendRows"/>).</summary>
    public (Tensor K, Tensor V, Tensor Delta) AppendRows(Tensor k, Tensor v, Tensor delta, Tensor rowLengths, long maxRowLength)
    {
        var (keys, values) = Kv.AppendRows(k, v, rowLengths, maxRowLength);
        long t = delta.shape[2];
        using (no_grad())
        {
            using var index = KvCache.SlotIndex(rowLengths, delta.shape);
            Delta.scatter_(2, index, delta);
        }
        return (keys, values, Delta.narrow(2, 0, maxRowLength + t));
    }

    /// <summary>
    /// Writes k, v [B, Hkv, T, P] and delta [B, Hm, T] at <paramref name="past"/>; returns views over keys, values
    /// and Δ for [0, past+T).
    /// </summary>
    public (Tensor K, Tensor V, Tensor Delta) Append(Tensor k, Tensor v, Tensor delta, long past)
    {
        long t = delta.shape[2];
        var (keys, values) = Kv.Append(k, v, past);
        using (no_grad())
            Delta.narrow(2, past, t).copy_(delta);
        return (keys, values, Delta.narrow(2, 0, past + t));
    }

    public void Dispose()
    {
        Kv.Dispose();
        Delta.Dispose();
    }
}
