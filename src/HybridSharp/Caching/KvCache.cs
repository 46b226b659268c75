using static TorchSharp.torch;

namespace HybridSharp.Caching;

/// <summary>
/// Preallocated key/value cache of one attention layer: [B, Hkv, capacity, P]. New keys are written in place at
/// [past, past+T); attention reads the prefix. No per-step concatenation.
/// </summary>
public sealed class KvCache : ILayerCache
{
    public Tensor Keys { get; }
    public Tensor Values { get; }

    public KvCache(long batch, long kvHeads, long capacity, long headDim, ScalarType dtype, Device device)
    {
        Keys = zeros([batch, kvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope();
        Values = zeros([batch, kvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope();
    }

    private KvCache(Tensor keys, Tensor values)
    {
        Keys = keys.DetachFromDisposeScope();
        Values = values.DetachFromDisposeScope();
    }

    public ILayerCache Rows(long start, long count) => RowsOf(start, count);

    /// <summary>Typed <see cref="Rows"/>.</summary>
    public KvCache RowsOf(long start, long count) => new(Keys.narrow(0, start, count), Values.narrow(0, start, count));

    /// <summary>Nothing to clear: keys beyond a row's length are never read (and are overwritten as the row grows).</summary>
    public void Reset() { }

    public void CopyRow(long from, long to, long length)
    {
        if (from == to || length == 0) return;
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            Keys[to].narrow(1, 0, length).copy_(Keys[from].narrow(1, 0, length));
            Values[to].narrow(1, 0, length).copy_(Values[from].narrow(1, 0, length));
        }
    }

    /// <summary>
    /// Slot mode: writes k, v ([B, Hkv, T, P]) of row b at [rowLengths[b], rowLengths[b]+T) (one scatter per tensor)
    /// and returns views over keys/values [0, maxRowLength+T); the caller masks each row's unused tail.
    /// </summary>
    public (Tensor K, Tensor V) AppendRows(Tensor k, Tensor v, Tensor rowLengths, long maxRowLength)
    {
        long t = k.shape[2];
        if (maxRowLength + t > Keys.shape[2])
            throw new InvalidOperationException($"KV cache overflow: {maxRowLength + t} tokens exceed its capacity of {Keys.shape[2]}");
        using (no_grad())
        {
            using var index = SlotIndex(rowLengths, k.shape);
            Keys.scatter_(2, index, k);
            Values.scatter_(2, index, v);
        }
        return (Keys.narrow(2, 0, maxRowLength + t), Values.narrow(2, 0, maxRowLength + t));
    }

    /// <summary>Index [B, H, T, P] (broadcast of rowLengths[b] + t) for scattering T new tokens along dim 2.</summary>
    internal static Tensor SlotIndex(Tensor rowLengths, long[] shape)
    {
        using var scope = NewDisposeScope();
        long b = shape[0], t = shape[2];
        var cols = rowLengths.view(b, 1).add(arange(t, dtype: ScalarType.Int64, device: rowLengths.device).unsqueeze(0)); // [B, T]
        var view = shape.Length == 4 ? cols.view(b, 1, t, 1) : cols.view(b, 1, t);
        return view.expand(shape).MoveToOuterDisposeScope();
    }

    /// <summary>Writes k, v ([B, Hkv, T, P]) at <paramref name="past"/> and returns views over keys/values [0, past+T).</summary>
    public (Tensor K, Tensor V) Append(Tensor k, Tensor v, long past)
    {
        long t = k.size(2);
        if (past + t > Keys.size(2))
            throw new InvalidOperationException($"KV cache overflow: {past + t} tokens exceed its capacity of {Keys.size(2)}");
        using (no_grad())
        {
            Keys.narrow(2, past, t).copy_(k);
            Values.narrow(2, past, t).copy_(v);
        }
        return (Keys.narrow(2, 0, past + t), Values.narrow(2, 0, past + t));
    }

    public void Dispose()
    {
        Keys.Dispose();
        Values.Dispose();
    }
}
