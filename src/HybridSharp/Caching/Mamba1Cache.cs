using static TorchSharp.torch;

namespace HybridSharp.Caching;

/// <summary>
/// Decode state of one Mamba-1 layer, fixed size (it never grows with the sequence): <see cref="ConvState"/>
/// [B, d_in, K] holds the last K pre-conv, pre-activation x columns (zeros before the first tokens);
/// <see cref="SsmState"/> [B, d_in, N] the selective-scan state, kept in fp32 (fp64 for fp64 models).
/// </summary>
public sealed class Mamba1Cache : ILayerCache
{
    public Tensor ConvState { get; }
    public Tensor SsmState { get; }
    public long Batch { get; }

    public Mamba1Cache(long batch, long innerSize, int convKernel, long stateSize, ScalarType dtype, Device device)
    {
        Batch = batch;
        ConvState = zeros([batch, innerSize, convKernel], dtype, device).DetachFromDisposeScope();
        var stateType = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        SsmState = zeros([batch, innerSize, stateSize], stateType, device).DetachFromDisposeScope();
    }

    private Mamba1Cache(Tensor convState, Tensor ssmState)
    {
        ConvState = convState.DetachFromDisposeScope();
        SsmState = ssmState.DetachFromDisposeScope();
        Batch = ssmState.shape[0];
    }

    /// <summary>A view over rows [start, start+count) sharing this cache's storage (writes go through).</summary>
    public ILayerCache Rows(long start, long count) => new Mamba1Cache(ConvState.narrow(0, start, count), SsmState.narrow(0, start, count));

    /// <summary>Copies row <paramref name="from"/>'s conv and SSM state to row <paramref name="to"/> (the length is irrelevant: the state is fixed-size).</summary>
    public void CopyRow(long from, long to, long length)
    {
        if (from == to) return;
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            ConvState[to].copy_(ConvState[from]);
            SsmState[to].copy_(SsmState[from]);
        }
    }

    /// <summary>Clears both states (a new sequence): the conv window and the SSM state start from zero.</summary>
    public void Reset()
    {
        using (no_grad())
        {
            ConvState.zero_();
            SsmState.zero_();
        }
    }

    /// <summary>Total number of cached elements (constant over the life of the cache).</summary>
    public long ElementCount => SsmState.numel() + ConvState.numel();

    public void Dispose()
    {
        ConvState.Dispose();
        SsmState.Dispose();
    }
}
