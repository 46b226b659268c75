using static TorchSharp.torch;

namespace HybridSharp.Caching;

/// <summary>
/// Decode state of one SSD layer, fixed size (it never grows with the sequence):
/// <see cref="ConvState"/> [B, C_conv, K] holds the last K pre-conv, pre-activation x|B|C columns (zeros before the
/// first tokens; null when the layer has no conv), <see cref="SsmState"/> [B, H, P, N] the SSM state, kept in fp32
/// (fp64 for fp64 models) whatever the activation dtype.
/// </summary>
public sealed class SsdCache : ILayerCache
{
    public Tensor? ConvState { get; }
    public Tensor SsmState { get; }
    public long Batch { get; }

    public SsdCache(long batch, long convChannels, int convKernel, long heads, long headDim, long stateSize, ScalarType dtype, Device device)
    {
        Batch = batch;
        if (convKernel > 0)
            ConvState = zeros([batch, convChannels, convKernel], dtype, device).DetachFromDisposeScope();
        var stateType = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        SsmState = zeros([batch, heads, headDim, stateSize], stateType, device).DetachFromDisposeScope();
    }

    private SsdCache(Tensor? convState, Tensor ssmState)
    {
        ConvState = convState?.DetachFromDisposeScope();
        SsmState = ssmState.DetachFromDisposeScope();
        Batch = ssmState.shape[0];
    }

    public ILayerCache Rows(long start, long count) => new SsdCache(ConvState?.narrow(0, start, count), SsmState.narrow(0, start, count));

    public void CopyRow(long from, long to, long length)
    {
        if (from == to) return;
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            if (ConvState is { } conv) conv[to].copy_(conv[from]);
            SsmState[to].copy_(SsmState[from]);
        }
    }

    /// <summary>Total number of cached elements (constant over the life of the cache).</summary>
    public long ElementCount => SsmState.numel() + (ConvState?.numel() ?? 0);

    /// <summary>Clears both states (a new sequence).</summary>
    public void Reset()
    {
        using (no_grad())
        {
            ConvState?.zero_();
            SsmState.zero_();
        }
    }

    public void Dispose()
    {
        ConvState?.Dispose();
        SsmState.Dispose();
    }
}
