using HybridSharp.Data;
using HybridSharp.Inference;
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

    public LiveSequence(GenerationRequest request, ITokenizer tokenizer, long vocab)
    {
        Request = request;
        Sampler = new Sampler(request.Sampling, 1, vocab);
        _decoder = new StreamingTextDecoder(tokenizer);
        _filter = new StopStringFilter(request.StopStrings);
        var s = request.Sampling;
        _penalised = s.RepetitionPenalty != 1.0 || s.FrequencyPenalty != 0 || s.PresencePenalty != 0;
        IsGreedy = s.Temperature == 0 && !_penalised;
        if (s.RepetitionPenalty != 1.0) Sampler.ObservePrompt(0, request.PromptIds);
    }

    public GenerationRequest Request { get; }
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
        return Sampler.Sample(logits).item<long>();
    }

    /// <summary>Consumes a chosen token: emits text, detects stop token / stop string / budget. Returns true when finished.</summary>
    public bool Accept(long token)
    {
        if (Request.StopTokens.Contains((int)token)) return Finish(FinishReason.Stop);
        Generated++;
        if (_penalised)
        {
            using var scope = NewDisposeScope();
            Sampler.Observe(tensor(new[] { token }));
        }
        Emit(_filter.Push(_decoder.Push((int)token)));
        if (_filter.Stopped) return Finish(FinishReason.Stop);
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
        if (text.Length > 0) Request.Events.Writer.TryWrite(new TextEvent(text));
    }

    private bool Finish(string reason)
    {
        Finished = true;
        Request.Events.Writer.TryWrite(new FinishEvent(reason, Request.PromptIds.Length, Generated));
        Request.Events.Writer.TryComplete();
        return true;
    }

    public void Dispose() => Sampler.Dispose();
}
