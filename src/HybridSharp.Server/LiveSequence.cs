using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Grammar;
using static TorchSharp.torch;

namespace HybridSharp.Server;

/// <summary>
/// A request while it holds a cache row: its sampler (own seed, own penalty counts), UTF-8 decoder and stop-string
/// filter. Turns each chosen token into events. Used on the model thread only.
/// </summary>
internal sealed class LiveSequence : IDisposable
{
    private readonly StreamingTextDecoder _decoder;
    private readonly StopStringFilter _filter;
    private readonly bool _penalised;
    private readonly ConstrainedChooser? _grammar;

    public LiveSequence(GenerationRequest request, ITokenizer tokenizer, long vocab, int index = 0)
    {
        Request = request;
        Index = index;
        Sampler = new Sampler(request.Sampling with { Seed = request.Sampling.Seed + index }, 1, vocab);
        _decoder = new StreamingTextDecoder(tokenizer);
        _filter = new StopStringFilter(request.StopStrings);
        var s = request.Sampling;
        _penalised = s.RepetitionPenalty != 1.0 || s.FrequencyPenalty != 0 || s.PresencePenalty != 0;
        if (request.Grammar is { } grammar)
            _grammar = new ConstrainedChooser(tokenizer, grammar, request.StopTokens, request.Sampling.Seed + index);
        IsGreedy = s.Temperature == 0 && !_penalised && _grammar is null;
        if (s.RepetitionPenalty != 1.0) Sampler.ObservePrompt(0, request.PromptIds);
    }

    public GenerationRequest Request { get; }
    /// <summary>Which of the request's choices this is.</summary>
    public int Index { get; }
    public Sampler Sampler { get; }
    /// <summary>Plain argmax: can share one batched argmax with other greedy rows.</summary>
    public bool IsGreedy { get; }
    /// <summary>The token to feed at the next decode step.</summary>
    public long NextInput { get; private set; }
    public int Generated { get; private set; }
    public bool Finished { get; private set; }

    /// <summary>Picks this row's next token from fp32 logits [1, V].</summary>
    public long Sample(Tensor logits)
    {
        using var scope = NewDisposeScope();
        if (_grammar is null) return Sampler.Sample(logits).item<long>();
        // Constrained: the grammar picks among the sampler's processed logits, on the CPU.
        bool greedy = Request.Sampling.Temperature == 0;
        var raw = logits.to_type(ScalarType.Float32).cpu().data<float>().ToArray();
        var processed = greedy && !_penalised ? raw : Sampler.Process(logits).cpu().data<float>().ToArray();
        return _grammar.Choose(processed, raw, greedy);
    }

    /// <summary>
    /// The chosen token's log-probability and the top alternatives from this row's raw logits [1, V], when the request
    /// asked for them; null otherwise.
    /// </summary>
    public TokenLogprob? Logprob(Tensor logits, long token)
    {
        if (Request.TopLogprobs is not { } top) return null;
        using var scope = NewDisposeScope();
        var lp = logits.to_type(ScalarType.Float32).log_softmax(-1)[0];
        double chosen = lp[token].item<float>();
        var alternatives = new List<(int, double)>(top);
        if (top > 0)
        {
            var (values, indices) = lp.topk(top);
            var v = values.cpu().data<float>().ToArray();
            var ix = indices.cpu().data<long>().ToArray();
            for (int i = 0; i < v.Length; i++) alternatives.Add(((int)ix[i], v[i]));
        }
        return new TokenLogprob((int)token, chosen, alternatives);
    }

    /// <summary>Log-probabilities of the prompt's tokens from the prefill's logits [1, T, V] (echo with logprobs).</summary>
    public void EmitPromptLogprobs(Tensor logits)
    {
        if (!Request.PromptLogprobs || Request.TopLogprobs is not { } top) return;
        using var scope = NewDisposeScope();
        var ids = Request.PromptIds;
        var list = new List<TokenLogprob>(ids.Length) { new(ids[0], null, []) };
        if (ids.Length > 1)
        {
            var lp = logits[0].narrow(0, 0, ids.Length - 1).to_type(ScalarType.Float32).log_softmax(-1); // position t predicts token t+1
            var next = tensor(ids.Skip(1).Select(i => (long)i).ToArray(), device: lp.device);
            var chosen = lp.gather(1, next.unsqueeze(1)).squeeze(1).cpu().data<float>().ToArray();
            float[] values = [];
            long[] indices = [];
            if (top > 0)
            {
                var (v, ix) = lp.topk(top, dim: 1);
                values = v.cpu().data<float>().ToArray();
                indices = ix.cpu().data<long>().ToArray();
            }
            for (int t = 1; t < ids.Length; t++)
            {
                var alternatives = new List<(int, double)>(top);
                for (int k = 0; k < top; k++) alternatives.Add(((int)indices[(t - 1) * top + k], values[(t - 1) * top + k]));
                list.Add(new TokenLogprob(ids[t], chosen[t - 1], alternatives));
            }
        }
        Request.Events.Writer.TryWrite(new LogprobEvent(list, Prompt: true));
    }

    /// <summary>
    /// Consumes a chosen token (with its log-probability when asked for): emits text, detects stop token / stop string /
    /// budget. Returns true when finished. A stop token is not part of the reply, so it has no log-probability event.
    /// </summary>
    public bool Accept(long token, TokenLogprob? logprob = null)
    {
        if (Request.StopTokens.Contains((int)token)) return Finish(FinishReason.Stop);
        _grammar?.Accept((int)token);
        if (logprob is not null) Request.Events.Writer.TryWrite(new LogprobEvent([logprob], Prompt: false, Index));
        Generated++;
        if (_penalised)
        {
            using var scope = NewDisposeScope();
            Sampler.Observe(tensor(new[] { token }));
        }
        Emit(_filter.Push(_decoder.Push((int)token)));
        if (_filter.Stopped) return Finish(FinishReason.Stop);
        if (_grammar is { State.IsComplete: true })
        {
            // The value is complete: nothing may follow.
            Emit(_filter.Push(_decoder.Flush()));
            if (!_filter.Stopped) Emit(_filter.Flush());
            return Finish(FinishReason.Stop);
        }
        if (Generated >= Request.MaxNewTokens)
        {
            Emit(_filter.Push(_decoder.Flush()));
            if (!_filter.Stopped) Emit(_filter.Flush());
            return Finish(_filter.Stopped ? FinishReason.Stop : FinishReason.Length);
        }
        NextInput = token;
        return false;
    }

    /// <summary>Ends the request with an error event (server stopping, internal failure).</summary>
    public void Fail(string message, string type)
    {
        if (Finished) return;
        Finished = true;
        Request.Events.Writer.TryWrite(new ErrorEvent(message, type));
        Request.Events.Writer.TryComplete();
    }

    /// <summary>Ends a request whose client went away (nobody reads the events any more).</summary>
    public void Abandon()
    {
        Finished = true;
        Request.Events.Writer.TryComplete();
    }

    private void Emit(string text)
    {
        if (text.Length > 0) Request.Events.Writer.TryWrite(new TextEvent(text, Index));
    }

    private bool Finish(string reason)
    {
        Finished = true;
        Request.Events.Writer.TryWrite(new FinishEvent(reason, Request.PromptIds.Length, Generated, Index));
        if (--Request.Remaining <= 0) Request.Events.Writer.TryComplete();
        return true;
    }

    public void Dispose() => Sampler.Dispose();
}
