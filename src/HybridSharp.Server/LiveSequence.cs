using HybridSharp.Data;
using HybridSharp.Inference;
using static TorchSharp.torch;

namespace HybridSharp.Server;

/// <summary>
/// One choice of a request while it holds a cache row: a <see cref="DecodeSequence"/> that publishes its text,
/// log-probabilities and end as events on the request's channel. Used on the model thread only.
/// </summary>
internal sealed class LiveSequence(GenerationRequest request, ITokenizer tokenizer, long vocab, int index = 0)
    : DecodeSequence(tokenizer, vocab, request.PromptIds, request.MaxNewTokens, request.Sampling with { Seed = request.Sampling.Seed + index },
        request.StopStrings, request.StopTokens, request.Grammar)
{
    public GenerationRequest Request { get; } = request;
    /// <summary>Which of the request's choices this is.</summary>
    public int Index { get; } = index;
    /// <summary>True once the request ended with an error or its client went away.</summary>
    public bool Closed { get; private set; }

    public override bool Cancelled => Request.Cancellation.IsCancellationRequested;

    public override bool WantsPromptLogits => Request.PromptLogprobs && Request.TopLogprobs is not null;

    /// <summary>Log-probabilities of the prompt's tokens from the prefill's logits [1, T, V] (echo with logprobs).</summary>
    public override void OnPromptLogits(Tensor logits)
    {
        if (Request.TopLogprobs is not { } top) return;
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
    /// The chosen token's log-probability and the top alternatives from this row's raw logits [1, V], when the request
    /// asked for them. A stop token is not part of the reply, so it never gets here.
    /// </summary>
    protected override void OnToken(int token, Tensor logits)
    {
        if (Request.TopLogprobs is not { } top) return;
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
        Request.Events.Writer.TryWrite(new LogprobEvent([new TokenLogprob(token, chosen, alternatives)], Prompt: false, Index));
    }

    protected override void OnText(string text) => Request.Events.Writer.TryWrite(new TextEvent(text, Index));

    protected override void OnFinish(string reason)
    {
        Request.Events.Writer.TryWrite(new FinishEvent(reason, Request.PromptIds.Length, Generated, Index));
        if (--Request.Remaining <= 0) Request.Events.Writer.TryComplete();
    }

    /// <summary>Ends the request with an error event (server stopping, internal failure).</summary>
    public void Fail(string message, string type)
    {
        if (Finished || Closed) return;
        Closed = true;
        Request.Events.Writer.TryWrite(new ErrorEvent(message, type));
        Request.Events.Writer.TryComplete();
    }

    /// <summary>Ends a request whose client went away (nobody reads the events any more).</summary>
    public void Abandon()
    {
        Closed = true;
        Request.Events.Writer.TryComplete();
    }
}
