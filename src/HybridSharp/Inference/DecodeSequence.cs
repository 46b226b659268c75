using HybridSharp.Data;
using HybridSharp.Grammar;
using static TorchSharp.torch;

namespace HybridSharp.Inference;

/// <summary>
/// One sequence being decoded: its sampler (own seed, own penalty counts), UTF-8-safe text decoder, stop strings and
/// stop tokens, token budget and, optionally, a grammar its output must follow. Turns each chosen token into text and
/// decides when the sequence ends. <see cref="DecodeBatch{T}"/> drives it; subclasses receive the text, the tokens and
/// the end through the <c>On…</c> hooks. Used on the model's thread only.
/// </summary>
public class DecodeSequence : IDisposable
{
    private readonly StreamingTextDecoder _decoder;
    private readonly StopStringFilter _filter;
    private readonly IReadOnlySet<int> _stopTokens;
    private readonly bool _penalised;
    private readonly bool _greedySampling;
    private readonly ConstrainedChooser? _grammar;

    /// <param name="sampling">The sampling settings, with the seed this sequence uses.</param>
    /// <param name="stopTokens">Token ids that end the reply (<see cref="StopTokens.For"/>); they are not part of it.</param>
    public DecodeSequence(ITokenizer tokenizer, long vocab, int[] promptIds, int maxNewTokens, SamplingOptions sampling,
        IReadOnlyList<string> stopStrings, IReadOnlySet<int> stopTokens, GrammarNode? grammar = null)
    {
        if (promptIds.Length == 0) throw new ArgumentException("a prompt must have at least one token");
        if (maxNewTokens < 0) throw new ArgumentException("max new tokens must be ≥ 0");
        PromptIds = promptIds;
        MaxNewTokens = maxNewTokens;
        Sampler = new Sampler(sampling, 1, vocab);
        _decoder = new StreamingTextDecoder(tokenizer);
        _filter = new StopStringFilter(stopStrings);
        _stopTokens = stopTokens;
        _greedySampling = sampling.Temperature == 0;
        _penalised = sampling.RepetitionPenalty != 1.0 || sampling.FrequencyPenalty != 0 || sampling.PresencePenalty != 0;
        if (grammar is not null) _grammar = new ConstrainedChooser(tokenizer, grammar, stopTokens, sampling.Seed);
        IsGreedy = _greedySampling && !_penalised && _grammar is null;
        if (sampling.RepetitionPenalty != 1.0) Sampler.ObservePrompt(0, promptIds);
        if (maxNewTokens == 0) FinishReason = Inference.FinishReason.Length;   // nothing to generate (no hook: the subclass is not built yet)
    }

    public int[] PromptIds { get; }
    public int MaxNewTokens { get; }
    public Sampler Sampler { get; }
    /// <summary>Plain argmax: can share one batched argmax with other greedy sequences.</summary>
    public bool IsGreedy { get; }
    /// <summary>The token to feed at the next decode step.</summary>
    public long NextInput { get; private set; }
    /// <summary>Tokens accepted into the reply (stop tokens excluded).</summary>
    public int Generated { get; private set; }
    public bool Finished => FinishReason is not null;
    /// <summary>"stop" or "length" once finished; null before.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>True when the sequence should leave unfinished (nobody waits for it any more).</summary>
    public virtual bool Cancelled => false;

    /// <summary>True when <see cref="OnPromptLogits"/> wants the prefill's logits at every prompt position.</summary>
    public virtual bool WantsPromptLogits => false;

    /// <summary>The prefill's fp32 logits [1, T, V] when <see cref="WantsPromptLogits"/>.</summary>
    public virtual void OnPromptLogits(Tensor logits) { }

    /// <summary>Picks this sequence's next token from fp32 logits [1, V].</summary>
    public long Sample(Tensor logits)
    {
        using var scope = NewDisposeScope();
        if (_grammar is null) return Sampler.Sample(logits).item<long>();
        // Constrained: the grammar picks among the sampler's processed logits, on the CPU.
        var raw = logits.to_type(ScalarType.Float32).cpu().data<float>().ToArray();
        var processed = _greedySampling && !_penalised ? raw : Sampler.Process(logits).cpu().data<float>().ToArray();
        return _grammar.Choose(processed, raw, _greedySampling);
    }

    /// <summary>
    /// Takes the chosen token (<paramref name="logits"/> [1, V]: the logits it was chosen from): emits text, detects a
    /// stop token, stop string, completed grammar value or the budget. Returns true when the sequence has finished.
    /// </summary>
    public bool Accept(long token, Tensor logits)
    {
        if (Finished) return true;
        if (_stopTokens.Contains((int)token)) return Finish(Inference.FinishReason.Stop);
        _grammar?.Accept((int)token);
        OnToken((int)token, logits);
        Generated++;
        if (_penalised)
        {
            using var scope = NewDisposeScope();
            Sampler.Observe(tensor(new[] { token }));
        }
        Emit(_filter.Push(_decoder.Push((int)token)));
        if (_filter.Stopped) return Finish(Inference.FinishReason.Stop);
        if (_grammar is { State.IsComplete: true })
        {
            Flush(); // the value is complete: nothing may follow
            return Finish(Inference.FinishReason.Stop);
        }
        if (Generated >= MaxNewTokens)
        {
            Flush();
            return Finish(_filter.Stopped ? Inference.FinishReason.Stop : Inference.FinishReason.Length);
        }
        NextInput = token;
        return false;
    }

    /// <summary>Called for each token taken into the reply, before its text, with the logits it was chosen from.</summary>
    protected virtual void OnToken(int token, Tensor logits) { }

    /// <summary>Text that is safe to emit (never a split UTF-8 character or a partial stop string).</summary>
    protected virtual void OnText(string text) { }

    /// <summary>The end: "stop" or "length".</summary>
    protected virtual void OnFinish(string reason) { }

    private void Flush()
    {
        Emit(_filter.Push(_decoder.Flush()));
        if (!_filter.Stopped) Emit(_filter.Flush());
    }

    private void Emit(string text)
    {
        if (text.Length > 0) OnText(text);
    }

    private bool Finish(string reason)
    {
        FinishReason = reason;
        OnFinish(reason);
        return true;
    }

    public virtual void Dispose()
    {
        Sampler.Dispose();
        GC.SuppressFinalize(this);
    }
}
