using System.Text.Json.Nodes;
using HybridSharp.Inference;

namespace HybridSharp.Eval.Reasoning;

/// <summary>How prompts are built and how many samples are drawn per problem.</summary>
public sealed record ReasoningEvalOptions
{
    /// <summary>Wrap the prompt as a user turn of the chat template (with the generation prompt); false = raw text prompt.</summary>
    public bool UseChatTemplate { get; init; } = true;

    /// <summary>Prompt text; <c>{problem}</c> is replaced by the problem.</summary>
    public string PromptTemplate { get; init; } = "{problem}";

    /// <summary>System message for chat prompts (null = none).</summary>
    public string? SystemPrompt { get; init; }

    /// <summary>Extra chat-template variables, e.g. <c>{"enable_thinking": false}</c> (null = none).</summary>
    public JsonObject? TemplateKwargs { get; init; }

    /// <summary>Samples per problem (k); more than one needs a temperature above 0.</summary>
    public int Samples { get; init; } = 1;

    /// <summary>Prompts generated together.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Token cap, sampling and extra stop strings (the chat template's end-of-turn strings are added in chat mode).</summary>
    public GenerationOptions Generation { get; init; } = new() { Sampling = SamplingOptions.Greedy, MaxNewTokens = 512 };

    public void Validate()
    {
        if (Samples < 1) throw new ArgumentException("`ReasoningEvalOptions.Samples` must be at least 1");
        if (Samples > 1 && Generation.Sampling.Temperature <= 0)
            throw new ArgumentException("`ReasoningEvalOptions.Samples` > 1 needs `SamplingOptions.Temperature` > 0 (greedy decoding gives the same answer every time)");
        if (BatchSize < 1) throw new ArgumentException("`ReasoningEvalOptions.BatchSize` must be positive");
        if (Generation.MaxNewTokens < 1) throw new ArgumentException("`GenerationOptions.MaxNewTokens` must be positive");
        if (!PromptTemplate.Contains("{problem}", StringComparison.Ordinal))
            throw new ArgumentException("`ReasoningEvalOptions.PromptTemplate` must contain {problem}");
        Generation.Sampling.Validate();
    }
}
