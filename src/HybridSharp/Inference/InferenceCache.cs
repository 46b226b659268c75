using static TorchSharp.torch;

namespace HybridSharp.Inference;

/// <summary>One layer's decode state. Attention layers hold a <see cref="KvCache"/>; SSD layers (later) a state slot.</summary>
public interface ILayerCache : IDisposable;

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

    /// <summary>Writes k, v ([B, Hkv, T, P]) at <paramref name="past"/> and returns views over keys/values [0, past+T).</summary>
    public (Tensor K, Tensor V) Append(Tensor k, Tensor v, long past)
    {
        long t = k.shape[2];
        if (past + t > Keys.shape[2])
            throw new InvalidOperationException($"KV cache overflow: {past + t} tokens exceed its capacity of {Keys.shape[2]}");
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

    public InferenceCache(long batch, long capacity, int numLayers, Device? device = null)
    {
        Batch = batch;
        Capacity = capacity;
        Layers = new ILayerCache?[numLayers];
        KeyValid = ones([batch, capacity], ScalarType.Bool, device ?? CPU).DetachFromDisposeScope();
    }

    /// <summary>Records validity of the T new tokens (null = all valid). Called by the model before the layers run.</summary>
    public void MarkValid(Tensor? attentionMask, long t)
    {
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
    }
}
