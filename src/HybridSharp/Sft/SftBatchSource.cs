using System.Runtime.CompilerServices;
using HybridSharp.Data.Corpus;
using HybridSharp.Models;
using HybridSharp.Training;
using static TorchSharp.torch;

namespace HybridSharp.Sft;

/// <summary>
/// Batches of SFT examples for the <see cref="Trainer"/>. Two layouts:
/// <list type="bullet">
/// <item><b>Per-example</b> (default, every architecture): examples sorted by length are cut into batches of
/// <c>batchSize</c> (length grouping keeps padding small), each right-padded to its longest example with targets −100.
/// Because every mixer is causal, right padding cannot change the logits of real tokens, and SSD state never carries
/// from one example to the next.</item>
/// <item><b>Packed</b> (attention/DMA stacks only): examples are laid end to end into rows of <c>seqLen</c> tokens, with
/// per-token example ids; the model attends block-diagonally and restarts positions per example
/// (<see cref="CausalLM.ForwardHiddenPacked"/>). An example never straddles two rows.</item>
/// </list>
/// Batches (fixed once) are visited in an order shuffled from (seed, epoch); the position is a <see cref="SamplerState"/>.
/// </summary>
public sealed class SftBatchSource : ITrainingBatchSource
{
    private readonly List<Row[]> _trainBatches;
    private readonly List<Row[]> _evalBatches;
    private readonly int _padId;
    private int[] _order = [];
    private long _orderEpoch = -1;

    private sealed record Row(long[] Inputs, long[] Targets, long[]? DocumentIds, int RealTokens);

    /// <summary>What a batch carries beyond <see cref="TokenBatch"/>: example ids of packed rows, and the unpadded token count.</summary>
    private sealed record BatchExtras(long[]? DocumentIds, long RealTokens);

    private readonly ConditionalWeakTable<TokenBatch, BatchExtras> _extras = new();

    public SftBatchSource(IReadOnlyList<SftExample> train, IReadOnlyList<SftExample> validation, int batchSize, long seed,
        int padId, bool packing = false, int seqLen = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (train.Count == 0) throw new ArgumentException("no training examples");
        if (packing && seqLen < 2) throw new ArgumentException("packing needs a row length (`SftOptions.MaxLength`) of at least 2");
        BatchSize = batchSize;
        Seed = seed;
        Packing = packing;
        _padId = padId;
        _trainBatches = packing ? PackedBatches(train, batchSize, seqLen) : GroupedBatches(train, batchSize);
        _evalBatches = packing ? PackedBatches(validation, batchSize, seqLen) : GroupedBatches(validation, batchSize);
    }

    public int BatchSize { get; }
    public long Seed { get; private set; }
    public bool Packing { get; }
    public long Epoch { get; private set; }
    public long Index { get; private set; }

    /// <summary>Training batches per epoch.</summary>
    public int BatchesPerEpoch => _trainBatches.Count;

    /// <summary>Validation batches available.</summary>
    public int EvaluationBatchCount => _evalBatches.Count;

    /// <summary>Fraction of training token positions that are padding (0 = none).</summary>
    public double PaddingFraction
    {
        get
        {
            long positions = _trainBatches.Sum(b => (long)b.Length * b.Max(r => r.Inputs.Length));
            long real = _trainBatches.Sum(b => b.Sum(r => (long)r.RealTokens));
            return positions == 0 ? 0 : 1.0 - (double)real / positions;
        }
    }

    public SamplerState State => new(Seed, Epoch, Index);

    public void Restore(SamplerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Epoch < 0 || state.Index < 0 || state.Index > _trainBatches.Count)
            throw new ArgumentException($"SFT sampler position (epoch {state.Epoch}, batch {state.Index}) does not fit {_trainBatches.Count} batches per epoch; resume with the same data and settings");
        if (state.Seed != Seed) _orderEpoch = -1;
        (Seed, Epoch, Index) = (state.Seed, state.Epoch, state.Index);
    }

    public TokenBatch NextBatch()
    {
        if (Index >= _trainBatches.Count)
        {
            Epoch++;
            Index = 0;
        }
        if (_orderEpoch != Epoch)
        {
            _order = Enumerable.Range(0, _trainBatches.Count).ToArray();
            new DeterministicRandom(Seed, Epoch).Shuffle(_order);
            _orderEpoch = Epoch;
        }
        return ToBatch(_trainBatches[_order[Index++]]);
    }

    public IEnumerable<TokenBatch> EvaluationBatches(int maxBatches) => _evalBatches.Take(maxBatches).Select(ToBatch);

    public Tensor Loss(CausalLM model, TokenBatch batch)
    {
        using var scope = NewDisposeScope();
        var device = model.LmHeadWeight.device;
        var x = tensor(batch.Inputs, [batch.BatchSize, batch.SeqLen], device: device);
        var y = tensor(batch.Targets, [batch.BatchSize, batch.SeqLen], device: device);
        var loss = _extras.TryGetValue(batch, out var extras) && extras.DocumentIds is { } docs
            ? model.LossPacked(x, y, tensor(docs, [batch.BatchSize, batch.SeqLen], device: device))
            : model.Loss(x, y);
        return loss.MoveToOuterDisposeScope();
    }

    public long TokenCount(TokenBatch batch) => _extras.TryGetValue(batch, out var e) ? e.RealTokens : (long)batch.BatchSize * batch.SeqLen;

    /// <summary>Example ids [B·T] of a packed batch made by this source, or null for per-example batches.</summary>
    public long[]? DocumentIds(TokenBatch batch) => _extras.TryGetValue(batch, out var e) ? e.DocumentIds : null;

    private TokenBatch ToBatch(Row[] rows)
    {
        int t = rows.Max(r => r.Inputs.Length);
        int b = rows.Length;
        var inputs = new long[b * t];
        var targets = new long[b * t];
        long[]? docs = Packing ? new long[b * t] : null;
        Array.Fill(inputs, _padId);
        Array.Fill(targets, -100);
        for (int r = 0; r < b; r++)
        {
            rows[r].Inputs.CopyTo(inputs, r * t);
            rows[r].Targets.CopyTo(targets, r * t);
            if (docs is not null)
            {
                var d = rows[r].DocumentIds!;
                d.CopyTo(docs, r * t);
                // Row padding is its own "example" so it never joins the last real one.
                long padDoc = d.Length == 0 ? 0 : d[^1] + 1;
                for (int i = d.Length; i < t; i++) docs[r * t + i] = padDoc;
            }
        }
        var batch = new TokenBatch(inputs, targets, b, t);
        _extras.Add(batch, new BatchExtras(docs, rows.Sum(r => r.RealTokens)));
        return batch;
    }

    private static (long[] Inputs, long[] Targets) Shift(SftExample e)
    {
        int n = e.Length - 1;
        var inputs = new long[n];
        var targets = new long[n];
        for (int i = 0; i < n; i++)
        {
            inputs[i] = e.Ids[i];
            targets[i] = e.InLoss[i + 1] ? e.Ids[i + 1] : -100;
        }
        return (inputs, targets);
    }

    private static List<Row[]> GroupedBatches(IReadOnlyList<SftExample> examples, int batchSize)
    {
        var sorted = examples.Select((e, i) => (e, i)).OrderBy(p => p.e.Length).ThenBy(p => p.i).Select(p => p.e).ToList();
        var batches = new List<Row[]>();
        for (int start = 0; start < sorted.Count; start += batchSize)
            batches.Add(sorted.Skip(start).Take(batchSize).Select(e =>
            {
                var (x, y) = Shift(e);
                return new Row(x, y, null, x.Length);
            }).ToArray());
        return batches;
    }

    private static List<Row[]> PackedBatches(IReadOnlyList<SftExample> examples, int batchSize, int seqLen)
    {
        // First-fit in file order: each row takes examples while they fit; an example longer than a row is cut.
        var rows = new List<Row>();
        var inputs = new List<long>();
        var targets = new List<long>();
        var docs = new List<long>();
        long doc = 0;
        void Flush()
        {
            if (inputs.Count == 0) return;
            rows.Add(new Row([.. inputs], [.. targets], [.. docs], inputs.Count));
            inputs.Clear(); targets.Clear(); docs.Clear();
            doc = 0;
        }
        foreach (var e in examples)
        {
            var (x, y) = Shift(e);
            if (x.Length > seqLen) { x = x[..seqLen]; y = y[..seqLen]; }
            if (inputs.Count + x.Length > seqLen) Flush();
            inputs.AddRange(x);
            targets.AddRange(y);
            for (int i = 0; i < x.Length; i++) docs.Add(doc);
            doc++;
        }
        Flush();
        var batches = new List<Row[]>();
        for (int start = 0; start < rows.Count; start += batchSize)
            batches.Add(rows.Skip(start).Take(batchSize).ToArray());
        return batches;
    }
}
