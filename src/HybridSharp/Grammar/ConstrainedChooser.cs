using HybridSharp.Data;

namespace HybridSharp.Grammar;

/// <summary>
/// Picks tokens that keep generation inside a grammar. The most likely candidates are tried first, as llama.cpp does:
/// greedy decoding takes the best token the grammar accepts among the top <see cref="Candidates"/>; sampling draws from
/// the distribution, and a rejected token's probability is removed and the draw repeated — exactly sampling from the
/// distribution restricted to accepted tokens. Only when every tried candidate is rejected does it test the whole
/// vocabulary. Stop tokens are accepted only where the value may end; other special tokens never.
/// </summary>
public sealed class ConstrainedChooser
{
    /// <summary>Candidates tried before the whole vocabulary is tested.</summary>
    public const int Candidates = 32;

    private readonly ITokenizer _tokenizer;
    private readonly IReadOnlySet<int> _stopTokens;
    private readonly Random _random;

    public ConstrainedChooser(ITokenizer tokenizer, GrammarNode grammar, IReadOnlySet<int> stopTokens, long seed)
    {
        _tokenizer = tokenizer;
        _stopTokens = stopTokens;
        _random = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        State = JsonGrammarState.Start(grammar);
    }

    /// <summary>Where generation stands in the grammar.</summary>
    public JsonGrammarState State { get; private set; }

    /// <summary>Tokens the last choice tested (for benchmarks).</summary>
    public int LastTested { get; private set; }

    /// <summary>The state after <paramref name="id"/>, or null when the grammar does not allow it here.</summary>
    public JsonGrammarState? Try(int id)
    {
        if (_stopTokens.Contains(id)) return State.CanEnd ? State : null;
        if (id < 0 || id >= _tokenizer.VocabSize || _tokenizer.IsSpecial(id)) return null;
        var bytes = _tokenizer.TokenBytes(id);
        return bytes.Length == 0 ? null : State.Advance(bytes);
    }

    /// <summary>Records the chosen token (it must be allowed).</summary>
    public void Accept(int id) => State = Try(id) ?? throw new InvalidOperationException($"token {id} is not allowed by the grammar here");

    /// <summary>
    /// Chooses a token from processed logits (the sampler's processed logits: −∞ for filtered tokens) and the raw logits
    /// (fallback when the grammar allows none of the unfiltered tokens).
    /// </summary>
    public int Choose(float[] processed, float[] raw, bool greedy)
    {
        LastTested = 0;
        return greedy ? ChooseGreedy(processed, raw) : ChooseSampled(processed, raw);
    }

    private bool Allowed(int id)
    {
        LastTested++;
        return Try(id) is not null;
    }

    private int ChooseGreedy(float[] logits, float[] raw)
    {
        // The best token first (usually allowed), then the next best ones, then the whole vocabulary.
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        if (Allowed(best)) return best;
        foreach (var id in TopIndices(logits, Candidates))
            if (Allowed(id)) return id;
        return BestAllowed(logits, raw);
    }

    private int ChooseSampled(float[] logits, float[] raw)
    {
        double max = logits.Max();
        if (double.IsNegativeInfinity(max)) return BestAllowed(logits, raw);
        var p = new double[logits.Length];
        double mass = 0;
        for (int i = 0; i < p.Length; i++) mass += p[i] = Math.Exp(logits[i] - max);
        for (int attempt = 0; attempt < Candidates && mass > 0; attempt++)
        {
            int id = Draw(p, mass);
            if (Allowed(id)) return id;
            mass -= p[id];
            p[id] = 0;
        }
        // Every draw was rejected: restrict the remaining distribution to allowed tokens and draw once.
        mass = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] > 0 && !Allowed(i)) p[i] = 0;
            mass += p[i];
        }
        return mass > 0 ? Draw(p, mass) : BestAllowed(logits, raw);
    }

    private int Draw(double[] p, double mass)
    {
        double u = _random.NextDouble() * mass;
        for (int i = 0; i < p.Length; i++)
        {
            u -= p[i];
            if (u < 0 && p[i] > 0) return i;
        }
        for (int i = p.Length - 1; i >= 0; i--) if (p[i] > 0) return i;
        throw new InvalidOperationException("empty distribution");
    }

    /// <summary>The allowed token with the highest logit (processed first, raw where every allowed token was filtered out).</summary>
    private int BestAllowed(float[] logits, float[] raw)
    {
        int best = -1;
        for (int i = 0; i < logits.Length; i++)
            if ((best < 0 || logits[i] > logits[best] || (logits[i] == logits[best] && raw[i] > raw[best])) && Allowed(i)) best = i;
        return best >= 0 ? best : throw new InvalidOperationException("the grammar allows no token of the vocabulary here");
    }

    private static IEnumerable<int> TopIndices(float[] logits, int k)
    {
        var heap = new PriorityQueue<int, float>();
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNegativeInfinity(logits[i])) continue;
            if (heap.Count < k) heap.Enqueue(i, logits[i]);
            else if (heap.TryPeek(out _, out var smallest) && logits[i] > smallest) heap.EnqueueDequeue(i, logits[i]);
        }
        var list = new List<(int Id, float Logit)>(heap.Count);
        while (heap.TryDequeue(out var id, out var logit)) list.Add((id, logit));
        return list.OrderByDescending(x => x.Logit).ThenBy(x => x.Id).Select(x => x.Id);
    }
}
