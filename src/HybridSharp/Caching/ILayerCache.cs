namespace HybridSharp.Caching;

/// <summary>
/// One layer's decode state: <see cref="KvCache"/> (attention), <see cref="DmaKvCache"/> (DMA), <see cref="SsdCache"/> (SSD)
/// or <see cref="Mamba1Cache"/> (Mamba-1).
/// Every layer cache is batch-major, so a range of rows can be viewed or a row moved without knowing the layer type.
/// </summary>
public interface ILayerCache : IDisposable
{
    /// <summary>A layer cache over rows [start, start+count) that shares this one's storage (writes go through).</summary>
    ILayerCache Rows(long start, long count);

    /// <summary>Copies row <paramref name="from"/>'s state (its first <paramref name="length"/> tokens for KV caches) to row <paramref name="to"/>.</summary>
    void CopyRow(long from, long to, long length);

    /// <summary>
    /// Prepares these rows for a new sequence: recurrent caches (SSD, Mamba-1) zero their conv and SSM states, which a
    /// prefill reads as its initial state; KV caches need nothing, because attention reads only a row's own length.
    /// </summary>
    void Reset();
}
