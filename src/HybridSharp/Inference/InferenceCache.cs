using static TorchSharp.torch;

namespace HybridSharp.Inference;

/// <summary>
/// One layer's decode state: <see cref="KvCache"/> (attention), <see cref="DmaKvCache"/> (DMA), <see cref="SsdCache"/> (SSD)
/// or <see cref="Mamba1Cache"/> (Mamba-1).
/// Every slot is batch-major, so a range of rows can be viewed or a row moved without knowing the layer type.
/// </summary>
public interface ILayerCache : IDisposable
{
    /// <summary>A slot over rows [start, start+count) that shares this slot's storage (writes go through).</summary>
    ILayerCache Rows(long start, long count);

    /// <summary>Copies row <paramref name="from"/>'s state (its first <paramref name="length"/> tokens for KV slots) to row <paramref name="to"/>.</summary>
    void CopyRow(long from, long to, long length);

    /// <summary>
    /// Prepares these rows for a new sequence: recurrent slots (SSD, Mamba-1) zero their conv and SSM states, which a
    /// prefill reads as its initial state; KV slots need nothing, because attention reads only a row's own length.
    /// </summary>
    void Reset();
}

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

/// <summary>
/// Decode state of a whole model: one slot per layer, the number of tokens already processed, and which cached
/// key positions are real tokens (false for left padding in batched prompts).
/// </summary>
public sealed class InferenceCache : IDisposable
{
    public long Batch { get; }
    public long Capacity { get; }
    /// <summary>Tokens already written (the next token's cache index).</summary>
    public long Length { get; private set; }
    public ILayerCache?[] Layers { get; }
    /// <summary>[B, capacity] bool: true where the cached key is a real token.</summary>
    public Tensor KeyValid { get; }
    /// <summary>True once any padded (invalid) key was written.</summary>
    public bool HasPadding { get; private set; }

    /// <summary>
    /// Slot mode (continuous batching, <see cref="SlotCache"/>): tokens already in each row [B] (int64, cache device).
    /// Row b writes its new tokens at [RowLengths[b], RowLengths[b]+T) and attends to its own keys only. Null = all rows
    /// share <see cref="Length"/>.
    /// </summary>
    public Tensor? RowLengths { get; }

    /// <summary>Slot mode: the largest entry of <see cref="RowLengths"/> (host copy, so layers size key views without a sync).</summary>
    public long MaxRowLength { get; }

    /// <summary>
    /// The cache of layer <paramref name="layerIndex"/>: created by <paramref name="create"/> on first use, otherwise the
    /// existing one, which must be a <typeparamref name="T"/> (a mixer finding another layer type's cache is a bug).
    /// </summary>
    public T LayerCache<T>(int layerIndex, Func<T> create) where T : class, ILayerCache
    {
        switch (Layers[layerIndex])
        {
            case null:
                var slot = create();
                Layers[layerIndex] = slot;
                return slot;
            case T existing:
                return existing;
            case var other:
                throw new InvalidOperationException($"layer {layerIndex}: cache slot holds a {other.GetType().Name}, not a {typeof(T).Name}");
        }
    }

    public InferenceCache(long batch, long capacity, int numLayers, Device? device = null)
    {
        Batch = batch;
        Capacity = capacity;
        Layers = new ILayerCache?[numLayers];
        KeyValid = ones([batch, capacity], ScalarType.Bool, device ?? CPU).DetachFromDisposeScope();
    }

    /// <summary>A view over existing layer slots (already restricted to the wanted rows); disposing it frees only the views.</summary>
    internal InferenceCache(ILayerCache?[] layerViews, long capacity, Tensor keyValid, long[]? rowLengths)
    {
        Batch = keyValid.shape[0];
        Capacity = capacity;
        Layers = layerViews;
        KeyValid = keyValid.DetachFromDisposeScope();
        if (rowLengths is not null)
        {
            RowLengths = tensor(rowLengths, device: keyValid.device).DetachFromDisposeScope();
            MaxRowLength = rowLengths.Length == 0 ? 0 : rowLengths.Max();
        }
    }

    /// <summary>Records validity of the T new tokens (null = all valid). Called by the model before the layers run.</summary>
    public void MarkValid(Tensor? attentionMask, long t)
    {
        if (RowLengths is not null)
        {
            if (attentionMask is not null) throw new InvalidOperationException("slot-mode caches take no attention mask (rows hold no padding)");
            if (MaxRowLength + t > Capacity)
                throw new InvalidOperationException($"cache overflow: {MaxRowLength + t} tokens exceed its capacity of {Capacity}");
            return;
        }
        if (Length + t > Capacity)
            throw new InvalidOperationException($"cache overflow: {Length + t} tokens exceed its capacity of {Capacity}");
        if (attentionMask is null) return;
        using (no_grad())
            KeyValid.narrow(1, Length, t).copy_(attentionMask.to_type(ScalarType.Bool));
        if (!HasPadding && !attentionMask.to_type(ScalarType.Bool).all().item<bool>()) HasPadding = true;
    }

    /// <summary>Advances the length after all layers consumed T new tokens.</summary>
    public void Advance(long t) => Length += t;

    public void Dispose()
    {
        foreach (var l in Layers) l?.Dispose();
        KeyValid.Dispose();
        RowLengths?.Dispose();
    }
}
