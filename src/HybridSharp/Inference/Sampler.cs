using static TorchSharp.torch;

namespace HybridSharp.Inference;

/// <summary>
/// Picks the next token for each row of a batch of fp32 logits [B, V], following <see cref="SamplingOptions"/>.
/// Keeps per-row token counts for the penalties. Seeded: the same options, seed and logits give the same tokens.
/// </summary>
public sealed class Sampler : IDisposable
{
    private readonly SamplingOptions _o;
    private readonly Generator _gen;
    private readonly Tensor _contextCounts;   // [B, V] prompt + generated (repetition penalty)
    private readonly Tensor _generatedCounts; // [B, V] generated only (frequency / presence)

    public Sampler(SamplingOptions options, long batch, long vocab)
    {
        options.Validate();
        _o = options;
        _gen = new Generator((ulong)options.Seed);
        _contextCounts = zeros([batch, vocab]).DetachFromDisposeScope();
        _generatedCounts = zeros([batch, vocab]).DetachFromDisposeScope();
    }

    /// <summary>Counts prompt tokens of row <paramref name="row"/> for the repetition penalty.</summary>
    public void ObservePrompt(int row, IEnumerable<int> ids)
    {
        using var scope = NewDisposeScope();
        foreach (var id in ids) _contextCounts[row, id] += 1;
    }

    /// <summary>Records the chosen tokens [B] (int64).</summary>
    public void Observe(Tensor next)
    {
        using var scope = NewDisposeScope();
        var idx = next.view(-1, 1);
        var one = ones_like(idx, dtype: ScalarType.Float32);
        _contextCounts.scatter_add_(1, idx, one);
        _generatedCounts.scatter_add_(1, idx, one);
    }

    /// <summary>Returns the next token ids [B] (int64).</summary>
    public Tensor Sample(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var l = Process(logits);
        if (_o.Temperature == 0) return l.argmax(-1).MoveToOuterDisposeScope();
        return multinomial(l.softmax(-1), 1, generator: _gen).view(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The logits tokens are drawn from [B, V]: penalties applied; when sampling, also top-k / top-p / min-p (removed
    /// tokens −∞) and divided by the temperature. Greedy decoding takes their argmax.
    /// </summary>
    public Tensor Process(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var l = ApplyPenalties(logits.to_type(ScalarType.Float32));
        if (_o.Temperature == 0) return l.MoveToOuterDisposeScope();
        return FilterLogits(l, _o.TopK, _o.TopP, _o.MinP).div_(_o.Temperature).MoveToOuterDisposeScope();
    }

    private Tensor ApplyPenalties(Tensor l)
    {
        if (_o.RepetitionPenalty != 1.0)
        {
            var seen = _contextCounts.gt(0);
            var penalised = where(l.gt(0), l.div(_o.RepetitionPenalty), l.mul(_o.RepetitionPenalty));
            l = where(seen, penalised, l);
        }
        if (_o.FrequencyPenalty != 0) l = l.sub(_generatedCounts.mul(_o.FrequencyPenalty));
        if (_o.PresencePenalty != 0) l = l.sub(_generatedCounts.gt(0).to_type(ScalarType.Float32).mul(_o.PresencePenalty));
        return l;
    }

    /// <summary>top-k, then top-p (nucleus), then min-p; removed tokens get −∞. Always keeps the best token.</summary>
    public static Tensor FilterLogits(Tensor logits, int topK, double topP, double minP)
    {
        using var scope = NewDisposeScope();
        var l = logits.clone();
        long v = l.shape[^1];
        if (topK > 0 && topK < v)
        {
            var kth = l.topk(topK, -1).values.narrow(-1, topK - 1, 1);
            l.masked_fill_(l.lt(kth), double.NegativeInfinity);
        }
        if (topP < 1.0)
        {
            var (sorted, order) = l.sort(-1, descending: true);
            var probs = sorted.softmax(-1);
            var cumBefore = probs.cumsum(-1).sub(probs); // mass strictly before each token
            var removeSorted = cumBefore.ge(topP);
            var remove = zeros_like(removeSorted).scatter(-1, order, removeSorted);
            l.masked_fill_(remove, double.NegativeInfinity);
        }
        if (minP > 0)
        {
            var probs = l.softmax(-1);
            var threshold = probs.max(-1, keepdim: true).values.mul(minP);
            l.masked_fill_(probs.lt(threshold), double.NegativeInfinity);
        }
        return l.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _gen.Dispose();
        _contextCounts.Dispose();
        _generatedCounts.Dispose();
    }
}
