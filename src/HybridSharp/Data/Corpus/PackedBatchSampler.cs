namespace HybridSharp.Data.Corpus;

/// <summary>
/// Draws training batches from a token shard. The shard is cut into non-overlapping blocks starting at 0, seqLen, 2·seqLen, …
/// (while start + seqLen + 1 ≤ count); each window is seqLen + 1 tokens from a block start, giving inputs (first seqLen)
/// and targets (shifted by one). Every epoch visits each block once in an order shuffled from (seed, epoch); batches run
/// on across epoch boundaries. The only memory beyond the batch is the block permutation (4 bytes per block).
/// The position is a <see cref="SamplerState"/> that can be saved and restored. Not thread-safe.
/// </summary>
public sealed class PackedBatchSampler
{
    private readonly TokenShard _shard;
    private int[] _order = [];
    private long _orderEpoch = -1;

    /// <summary>Creates a sampler at the start of epoch 0.</summary>
    public PackedBatchSampler(TokenShard shard, int seqLen, int batchSize, long seed)
    {
        _shard = shard ?? throw new ArgumentNullException(nameof(shard));
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLen, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        SeqLen = seqLen;
        BatchSize = batchSize;
        Seed = seed;
        long blocks = BlockCountFor(shard.Count, seqLen);
        if (blocks == 0)
            throw new ArgumentException($"token shard '{shard.Path}' has {shard.Count} tokens, too few for one window of {seqLen + 1}", nameof(shard));
        if (blocks > Array.MaxLength)
            throw new NotSupportedException($"token shard '{shard.Path}' has {blocks} blocks of {seqLen}; at most {Array.MaxLength} are supported");
        BlockCount = blocks;
    }

    /// <summary>Tokens per row of inputs/targets.</summary>
    public int SeqLen { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Shuffle seed.</summary>
    public long Seed { get; private set; }

    /// <summary>Windows per epoch.</summary>
    public long BlockCount { get; }

    /// <summary>Current epoch (zero-based).</summary>
    public long Epoch { get; private set; }

    /// <summary>Windows already consumed in the current epoch.</summary>
    public long Index { get; private set; }

    /// <summary>Current resumable position.</summary>
    public SamplerState State => new(Seed, Epoch, Index);

    /// <summary>Number of windows of <paramref name="seqLen"/> + 1 tokens at block starts in a shard of <paramref name="tokenCount"/> tokens.</summary>
    public static long BlockCountFor(long tokenCount, int seqLen)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLen, 1);
        return tokenCount <= seqLen ? 0 : (tokenCount - 1) / seqLen;
    }

    /// <summary>Moves to a saved position; subsequent batches equal those an uninterrupted sampler would produce.</summary>
    public void Restore(SamplerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Epoch < 0) throw new ArgumentOutOfRangeException(nameof(state), $"sampler epoch {state.Epoch} is negative");
        if (state.Index < 0 || state.Index > BlockCount)
            throw new ArgumentOutOfRangeException(nameof(state), $"sampler index {state.Index} is outside 0..{BlockCount} (blocks per epoch for seqLen {SeqLen})");
        if (state.Seed != Seed) _orderEpoch = -1;
        Seed = state.Seed;
        Epoch = state.Epoch;
        Index = state.Index;
    }

    /// <summary>Returns the next batch of <see cref="BatchSize"/> windows and advances the position.</summary>
    public TokenBatch NextBatch()
    {
        var inputs = new long[BatchSize * SeqLen];
        var targets = new long[BatchSize * SeqLen];
        var starts = new long[BatchSize];
        NextBatch(inputs, targets, starts);
        return new TokenBatch(inputs, targets, BatchSize, SeqLen) { WindowStarts = starts };
    }

    /// <summary>Fills caller-owned buffers (each <c>BatchSize * SeqLen</c> long) with the next batch and advances the position.</summary>
    public void NextBatch(Span<long> inputs, Span<long> targets) => NextBatch(inputs, targets, []);

    private void NextBatch(Span<long> inputs, Span<long> targets, Span<long> starts)
    {
        int size = BatchSize * SeqLen;
        if (inputs.Length != size || targets.Length != size)
            throw new ArgumentException($"batch buffers must hold BatchSize * SeqLen = {size} values (got {inputs.Length} and {targets.Length})");
        for (int row = 0; row < BatchSize; row++)
        {
            if (Index >= BlockCount)
            {
                Epoch++;
                Index = 0;
            }
            long start = (long)OrderFor(Epoch)[Index] * SeqLen;
            Index++;
            _shard.ReadTokens(start, inputs.Slice(row * SeqLen, SeqLen));
            _shard.ReadTokens(start + 1, targets.Slice(row * SeqLen, SeqLen));
            if (!starts.IsEmpty) starts[row] = start;
        }
    }

    /// <summary>
    /// Sequential batches over <paramref name="shard"/> (windows at 0, seqLen, 2·seqLen, …), as used for evaluation.
    /// The last batch may hold fewer than <paramref name="batchSize"/> rows; a shard shorter than one window yields nothing.
    /// </summary>
    public static IEnumerable<TokenBatch> Sequential(TokenShard shard, int seqLen, int batchSize, int maxBatches = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLen, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatches);
        return Iterate();

        IEnumerable<TokenBatch> Iterate()
        {
            long blocks = BlockCountFor(shard.Count, seqLen), next = 0;
            for (int b = 0; b < maxBatches && next < blocks; b++)
            {
                int rows = (int)Math.Min(batchSize, blocks - next);
                var inputs = new long[rows * seqLen];
                var targets = new long[rows * seqLen];
                var starts = new long[rows];
                for (int row = 0; row < rows; row++, next++)
                {
                    long start = next * seqLen;
                    shard.ReadTokens(start, inputs.AsSpan(row * seqLen, seqLen));
                    shard.ReadTokens(start + 1, targets.AsSpan(row * seqLen, seqLen));
                    starts[row] = start;
                }
                yield return new TokenBatch(inputs, targets, rows, seqLen) { WindowStarts = starts };
            }
        }
    }

    private int[] OrderFor(long epoch)
    {
        if (_orderEpoch == epoch) return _order;
        if (_order.Length != BlockCount) _order = new int[BlockCount];
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        new DeterministicRandom(Seed, epoch).Shuffle(_order);
        _orderEpoch = epoch;
        return _order;
    }
}
