using System.Threading.Channels;
using HybridSharp.Inference;
using HybridSharp.Grammar;

namespace HybridSharp.Server;

/// <summary>
/// One queued generation: tokenized prompt, budget, sampling and stop conditions, and a channel on which the model
/// thread publishes <see cref="GenerationEvent"/>s. Cancelled through <see cref="Cancellation"/> (client gone).
/// </summary>
public sealed class GenerationRequest
{
    public required int[] PromptIds { get; init; }
    public required int MaxNewTokens { get; init; }
    public required SamplingOptions Sampling { get; init; }
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public required IReadOnlySet<int> StopTokens { get; init; }
    public CancellationToken Cancellation { get; init; }
    /// <summary>When set, every choice's output is a value of this grammar (structured output, forced tool calls).</summary>
    public GrammarNode? Grammar { get; init; }
    /// <summary>Continuations of the prompt (OpenAI's <c>n</c>): prefilled once, then each samples with seed + its index.</summary>
    public int Choices { get; init; } = 1;
    /// <summary>Choices not finished yet; the event channel completes when it reaches 0 (model thread only).</summary>
    internal int Remaining { get; set; }
    /// <summary>Null: no log-probabilities. Otherwise each generated token's log-probability and this many alternatives (0–20).</summary>
    public int? TopLogprobs { get; init; }
    /// <summary>Also report the log-probability of every prompt token after the first (completions with echo).</summary>
    public bool PromptLogprobs { get; init; }

    /// <summary>Events for this request, written by the model thread only.</summary>
    public Channel<GenerationEvent> Events { get; } = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
}

/// <summary>What the model thread reports for a request.</summary>
public abstract record GenerationEvent;

/// <summary>Text that is safe to emit (never a split UTF-8 character or a partial stop string).</summary>
public sealed record TextEvent(string Text, int Index = 0) : GenerationEvent;

/// <summary>
/// One token's log-probability under the model (log-softmax of its raw logits, before temperature or penalties) and the
/// <see cref="GenerationRequest.TopLogprobs"/> most likely alternatives. <see cref="Logprob"/> is null for the first
/// prompt token, which has no context.
/// </summary>
public sealed record TokenLogprob(int Id, double? Logprob, IReadOnlyList<(int Id, double Logprob)> Top);

/// <summary>Log-probabilities of tokens, in order: prompt tokens first (echo), then each generated token as it is chosen.</summary>
public sealed record LogprobEvent(IReadOnlyList<TokenLogprob> Tokens, bool Prompt, int Index = 0) : GenerationEvent;

/// <summary>The end of choice <paramref name="Index"/>: "stop" or "length", and token counts for <c>usage</c>.</summary>
public sealed record FinishEvent(string FinishReason, int PromptTokens, int CompletionTokens, int Index = 0) : GenerationEvent;

/// <summary>Generation failed or the server stopped it.</summary>
public sealed record ErrorEvent(string Message, string Type) : GenerationEvent;
