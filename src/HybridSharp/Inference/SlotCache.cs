using HybridSharp.Models;
using static TorchSharp.torch;
using HybridSharp.Caching;

namespace HybridSharp.Inference;

/// <summary>
/// Decode state for continuous batching: a preallocated cache of <see cref="MaxBatch"/> rows × <see cref="Capacity"/>
/// tokens over every layer type (KV for attention, KV + Δ for DMA, conv + SSM state for SSD and Mamba-1), in which sequences join
/// and leave between decode steps.
/// <list type="bullet">
/// <item>The live sequences always occupy rows [0, <see cref="Count"/>), each with its own length. A decode step runs on
/// a view of exactly those rows (<see cref="StepView"/>, slot mode): row b writes at its own length and sees only its
/// own keys, through a per-row mask over the preallocated KV. No padding, no per-step concatenation or gathering.</item>
/// <item>A joining sequence is prefilled alone into the next free row (<see cref="OpenRow"/> / <see cref="CommitRow"/>),
/// with the ordinary one-sequence code path.</item>
/// <item>A leaving sequence's row is filled by the last live row (<see cref="Remove"/>): one row copy of its used
/// prefix, so the live rows stay contiguous and a step never computes empty rows.</item>
/// </list>
/// Must be used on the thread that owns the model, inside inference mode.
/// </summary>
public sealed class SlotCache : IDisposable
{
    private readonly InferenceCache _storage;
    private readonly long[] _lengths;

    /// <summary>Allocates every layer's slot for <paramref name="maxBatch"/> rows in the model's dtype and device.</summary>
    public SlotCache(CausalLM model, int maxBatch, long capacity)
    {
        if (maxBatch < 1) throw new ArgumentException("max batch must be ≥ 1");
        if (capacity < 2) throw new ArgumentException("slot cache capacity must be ≥ 2");
        MaxBatch = maxBatch;
        Capacity = capacity;
        _lengths = new long[maxBatch];
        var device = model.LmHeadWeight.device;
        _storage = model.NewCache(maxBatch, capacity);
        // One throw-away token per row lets every layer allocate its own slot type exactly as in ordinary decoding.
        using (no_grad())
        using (NewDisposeScope())
            model.ForwardHidden(zeros([maxBatch, 1], ScalarType.Int64, device), _storage);
        if (_storage.Layers.Any(l => l is null)) throw new InvalidOperationException("a layer did not allocate its cache slot");
    }

    public int MaxBatch { get; }
    public long Capacity { get; }

    /// <summary>Live sequences; they occupy rows [0, Count).</summary>
    public int Count { get; private set; }

    /// <summary>Tokens held by live row <paramref name="row"/>.</summary>
    public long LengthOf(int row) => row < Count ? _lengths[row] : throw new ArgumentOutOfRangeException(nameof(row));

    /// <summary>
    /// A one-row cache over the next free row, empty (length 0, SSD and Mamba-1 states zeroed: the row may hold the state
    /// of a sequence that left, or of the allocation token), for prefilling a joining sequence with
    /// the ordinary forward. Pass it to <see cref="CommitRow"/> afterwards, or dispose it to abandon the join.
    /// </summary>
    public InferenceCache OpenRow()
    {
        if (Count >= MaxBatch) throw new InvalidOperationException($"all {MaxBatch} cache rows are in use");
        var view = View(Count, 1, null);
        foreach (var layer in view.Layers) layer!.Reset();
        return view;
    }

    /// <summary>Makes the prefilled row live (its length is the view's length) and returns its row index.</summary>
    public int CommitRow(InferenceCache rowView)
    {
        ArgumentNullException.ThrowIfNull(rowView);
        if (Count >= MaxBatch) throw new InvalidOperationException($"all {MaxBatch} cache rows are in use");
        _lengths[Count] = rowView.Length;
        rowView.Dispose();
        return Count++;
    }

    /// <summary>
    /// Copies live row <paramref name="row"/> into the next free row (every layer's KV prefix, conv and SSM state) and
    /// makes it live; returns its index. Used for several continuations of one prefilled prompt.
    /// </summary>
    public int Fork(int row)
    {
        if (row < 0 || row >= Count) throw new ArgumentOutOfRangeException(nameof(row));
        if (Count >= MaxBatch) throw new InvalidOperationException($"all {MaxBatch} cache rows are in use");
        foreach (var layer in _storage.Layers) layer!.CopyRow(row, Count, _lengths[row]);
        _lengths[Count] = _lengths[row];
        return Count++;
    }

    /// <summary>
    /// A view of the live rows for one forward call; dispose it after the call, then <see cref="Advance"/>. Rows of
    /// different lengths get a slot-mode view (each row writes at its own length behind a per-row mask); when every live
    /// row holds the same number of tokens (one sequence, or choices of one prompt), an ordinary view of that length,
    /// which needs no mask at all for a one-token step.
    /// </summary>
    public InferenceCache StepView()
    {
        if (Count == 0) throw new InvalidOperationException("no live rows");
        long first = _lengths[0];
        for (int r = 1; r < Count; r++)
            if (_lengths[r] != first) return View(0, Count, _lengths[..Count]);
        return View(0, Count, null, first);
    }

    /// <summary>Records that every live row consumed <paramref name="tokens"/> more tokens.</summary>
    public void Advance(long tokens = 1)
    {
        for (int r = 0; r < Count; r++)
        {
            if (_lengths[r] + tokens > Capacity) throw new InvalidOperationException($"row {r} would exceed the cache capacity {Capacity}");
            _lengths[r] += tokens;
        }
    }

    /// <summary>
    /// Frees row <paramref name="row"/>. The last live row moves into it; returns that row's old index (the caller
    /// re-points the sequence that lived there), or −1 when nothing moved.
    /// </summary>
    public int Remove(int row)
    {
        if (row < 0 || row >= Count) throw new ArgumentOutOfRangeException(nameof(row));
        int last = Count - 1;
        Count--;
        if (row == last) return -1;
        foreach (var layer in _storage.Layers) layer!.CopyRow(last, row, _lengths[last]);
        _lengths[row] = _lengths[last];
        return last;
    }

    private InferenceCache View(long start, long count, long[]? rowLengths, long length = 0)
    {
        var layers = new ILayerCache?[_storage.Layers.Length];
        for (int i = 0; i < layers.Length; i++) layers[i] = _storage.Layers[i]!.Rows(start, count);
        return new InferenceCache(layers, Capacity, _storage.AttentionMask.narrow(0, start, count), rowLengths, length);
    }

    public void Dispose() => _storage.Dispose();
}
