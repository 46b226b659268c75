using HybridSharp.Chat;
using HybridSharp.Data;

namespace HybridSharp.Sft;

/// <summary>
/// Turns conversations into <see cref="SftExample"/>s: renders them with the chat template, cuts the text into context
/// and assistant segments (<see cref="ChatTemplate.Segments"/>), encodes each segment as rendered (no special tokens
/// added: the template writes BOS where it wants one), so a prompt's tokens are exactly those generation sees, and cuts
/// examples longer than <see cref="MaxLength"/> tokens at the end.
/// </summary>
public sealed class SftEncoder(ITokenizer tokenizer, ChatTemplate template, SftLoss loss = SftLoss.Assistant, int maxLength = 1024,
    string? systemPrompt = null)
{
    public ITokenizer Tokenizer => tokenizer;
    public ChatTemplate Template => template;
    public SftLoss Loss => loss;
    public int MaxLength => maxLength;

    /// <summary>When set, replaces any system message (LiteCoT's trainer does this) or is inserted as the first message.</summary>
    public string? SystemPrompt => systemPrompt;

    /// <summary>Encodes one conversation; null when nothing is left to train on after truncation.</summary>
    /// <exception cref="Jinja.TemplateException">The template raised for this conversation.</exception>
    public SftExample? Encode(Conversation conversation)
    {
        var messages = conversation.Messages;
        if (maxLength < 2) throw new ArgumentException("the maximum length must be at least 2 tokens");
        IReadOnlyList<ChatMessage> conv = messages;
        if (systemPrompt is not null)
            conv = [ChatMessage.FromSystem(systemPrompt), .. messages.Where(m => m.Role != ChatMessage.System)];
        var ids = new List<int>();
        var inLoss = new List<bool>();
        foreach (var segment in template.Segments(conv, conversation.Tools))
        {
            var piece = tokenizer.Encode(segment.Text);
            bool trained = loss == SftLoss.All || segment.IsAssistant;
            ids.AddRange(piece);
            for (int i = 0; i < piece.Length; i++) inLoss.Add(trained);
        }
        if (ids.Count > maxLength)
        {
            ids.RemoveRange(maxLength, ids.Count - maxLength);
            inLoss.RemoveRange(maxLength, inLoss.Count - maxLength);
        }
        var example = new SftExample([.. ids], [.. inLoss]);
        return example.Length >= 2 && example.LossTokens > 0 ? example : null;
    }
}
