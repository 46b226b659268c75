using HybridSharp.Chat;
using HybridSharp.Data;

namespace HybridSharp.Distill;

/// <summary>What <see cref="DistillExporter"/> writes.</summary>
public sealed record ExportOptions
{
    /// <summary>System prompt placed in SFT exports: null = none; otherwise this text (see <see cref="UseGenerationPrompt"/>).</summary>
    public string? SftSystemPrompt { get; init; }
    /// <summary>Use each row's generation (DAP) system prompt as the SFT system prompt.</summary>
    public bool UseGenerationPrompt { get; init; }
    /// <summary>Dataset name in LLaMA-Factory's dataset_info.json.</summary>
    public string DatasetName { get; init; } = "distilled";
    public bool Parquet { get; init; } = true;
    /// <summary>
    /// The student's chat template and tokenizer: each SFT row then also carries <c>text</c>, the conversation rendered
    /// exactly as <c>hybrid sft</c> trains on it, and <c>tokens</c>, its length in the student's tokens. Null = neither.
    /// </summary>
    public StudentFormat? Student { get; init; }
}

/// <summary>How a student model sees chat data: its chat template and tokenizer.</summary>
public sealed record StudentFormat(ChatTemplate Template, ITokenizer Tokenizer)
{
    /// <summary>The rendered conversation and its token count.</summary>
    public (string Text, int Tokens) Render(IReadOnlyList<ChatMessage> messages)
    {
        var text = Template.Render(messages, addGenerationPrompt: false);
        return (text, Tokenizer.Encode(text).Length);
    }
}
