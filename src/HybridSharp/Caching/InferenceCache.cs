using static TorchSharp.torch;

namespace HybridSharp.Caching;

/// <summary>
/// Decode state of a whole model: one layer cache per layer, the number of tokens already processed, and which cached
/// key positions are real tokens (false for left padding in batched prompts).
/// </summary>
public sealed class InferenceCache : IDisposable
{
    public long Batch { get; }
    public long Capacity { get; }
    /// <summary>Tokens already written (the next token's cache index).</summary>
    public long Length { get; private set; }
    public ILayerCache?[] Layers { get; }
    /// <summary>[B, capacity] bool: the attention mask of every token written so far (true = real token, false = padding).</summary>
    public Tensor AttentionMask { get; }
    /// <summary>True once any padded (invalid) key was written.</summary>
    public bool HasPadding { get; private set; }

    /// <summary>
    /// Slot mode (continuous batching, see <c>Inference.SlotCache</c>): tokens already in each row [B] (int64, cache device).
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
                var created = create();
                Layers[layerIndex] = created;
                return created;
            case T existing:
                return existing;
            case var other:
                throw new InvalidOperationException($"layer {layerIndex}: cache holds a {other.GetType().Name}, not a {typeof(T).Name}");
        }
    }

    public InferenceCache(long batch, long capacity, int numLayers, Device? device = null)
    {
        Batch = batch;
        Capacity = capacity;
        Layers = new ILayerCache?[numLayers];
        AttentionMask = ones([batch, capacity], ScalarType.Bool, device ?? CPU).DetachFromDisposeScope();
    }

    /// <summary>
    /// A view over existing layer caches (already restricted to the wanted rows) holding <paramref name="length"/> tokens,
    /// or in slot mode when <paramref name="rowLengths"/> is given; disposing it frees only the views.
    /// </summary>
    internal InferenceCache(ILayerCache?[] layerViews, long capacity, Tensor attentionMask, long[]? rowLengths, long length = 0)
    {
        Length = length;
        Batch = attentionMask.shape[0];
        Capacity = capacity;
        Layers = layerViews;
        AttentionMask = attentionMask.DetachFromDisposeScope();
        if (rowLengths is not null)
        {
            RowLengths = tensor(rowLengths, device: attentionMask.device).DetachFromDisposeScope();
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
            AttentionMask.narrow(1, Length, t).copy_(attentionMask.to_type(ScalarType.Bool));
        if (!HasPadding && !attentionMask.to_type(ScalarType.Bool).all().item<bool>()) HasPadding = true;
    }

    /// <summary>Advances the length after all layers consumed T new tokens.</summary>
    public void Advance(long t) => Length += t;

    public void Dispose()
    {
        foreach (var l in Layers) l?.Dispose();
        AttentionMask.Dispose();
        RowLengths?.Dispose();
    }
}
