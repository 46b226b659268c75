using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Eval;

/// <summary>Per-token log-probabilities of a text under a model.</summary>
public sealed record TextScore(int Tokens, double TotalNll, double Perplexity, IReadOnlyList<(int Id, string Text, double LogProb)> PerToken);

/// <summary>Scores texts and datasets: total negative log-likelihood, per-token log-probs, perplexity.</summary>
public static class TextScorer
{
    /// <summary>
    /// Scores every token of <paramref name="text"/> after the first. With <paramref name="addBos"/> the text is framed
    /// with the special tokens the tokenizer adds (BOS for most; none for Qwen), so the first text token is scored too.
    /// Long texts are scored in windows of <paramref name="window"/> tokens with a cache.
    /// </summary>
    public static TextScore Score(CausalLM model, ITokenizer tokenizer, string text, bool addBos = true, int window = 512)
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: addBos);
        if (ids.Length < 2) throw new ArgumentException("text too short to score: need at least one token after the first");
        var perToken = new List<(int, string, double)>();
        double nll = 0;
        model.eval();
        using var _ = inference_mode();
        using var cache = model.NewCache(1, ids.Length);
        for (int start = 0; start < ids.Length - 1; start += window)
        {
            using var scope = NewDisposeScope();
            int len = Math.Min(window, ids.Length - 1 - start);
            var x = tensor(ids.Skip(start).Take(len).Select(i => (long)i).ToArray(), [1, len]);
            var logp = model.Forward(x, cache).log_softmax(-1)[0];
            var targets = tensor(ids.Skip(start + 1).Take(len).Select(i => (long)i).ToArray(), [len, 1]);
            var picked = logp.gather(1, targets).view(-1).data<float>().ToArray();
            for (int i = 0; i < len; i++)
            {
                int id = ids[start + 1 + i];
                perToken.Add((id, tokenizer.Decode([id]), picked[i]));
                nll -= picked[i];
            }
        }
        return new TextScore(perToken.Count, nll, Math.Exp(nll / perToken.Count), perToken);
    }

    /// <summary>Mean loss and perplexity over a token shard in non-overlapping windows.</summary>
    public static (double MeanNll, double Perplexity, long Tokens) ScoreShard(CausalLM model, TokenShard shard, int seqLen, int batchSize, int maxBatches = int.MaxValue)
    {
        model.eval();
        using var _ = no_grad();
        double sum = 0;
        long n = 0;
        foreach (var batch in PackedBatchSampler.Sequential(shard, seqLen, batchSize, maxBatches))
        {
            using var scope = NewDisposeScope();
            var x = tensor(batch.Inputs, [batch.BatchSize, batch.SeqLen]);
            var y = tensor(batch.Targets, [batch.BatchSize, batch.SeqLen]);
            long count = (long)batch.BatchSize * batch.SeqLen;
            sum += model.Loss(x, y).item<float>() * count;
            n += count;
        }
        if (n == 0) throw new ArgumentException($"the split has fewer than {seqLen + 1} tokens; use a smaller `seqLen`");
        return (sum / n, Math.Exp(sum / n), n);
    }
}
