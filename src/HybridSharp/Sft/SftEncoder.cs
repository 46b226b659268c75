using HybridSharp.Data;
using HybridSharp.Inference;

namespace HybridSharp.Sft;

/// <summary>
/// Turns conversations into <see cref="SftExample"/>s: renders them with a chat template segment by segment, encodes each
/// segment separately (so the loss mask follows segment boundaries exactly), prepends BOS (as generation does) and cuts
/// examples longer than <see cref="MaxLength"/> tokens at the end.
/// </summary>
public sealed class SftEncoder(ITokenizer tokenizer, ChatTemplate template, SftLoss loss = SftLoss.Assistant, int maxLength = 1024,
    string? systemPrompt = null, bool addBos = true)
{
    public ITokenizer Tokenizer => tokenizer;
    public ChatTemplate Template => template;
    public SftLoss Loss => loss;
    public int MaxLength => maxLength;

    /// <summary>When set, replaces any system message (LiteCoT's trainer does this) or is inserted as the first message.</summary>
    public string? SystemPrompt => systemPrompt;

    /// <summary>Encodes one conversation; null when nothing is left to train on after truncation.</summary>
    public SftExample? Encode(IReadOnlyList<ChatMessage> messages)
    {
        if (maxLength < 2) throw new ArgumentException("--max-length must be at least 2");
        IReadOnlyList<ChatMessage> conv = messages;
        if (systemPrompt is not null)
            conv = [ChatMessage.FromSystem(systemPrompt), .. messages.Where(m => m.Role != ChatMessage.System)];
        var ids = new List<int>();
        var inLoss = new List<bool>();
        if (addBos)
        {
            ids.Add(tokenizer.BosId);
            inLoss.Add(false);
        }
        foreach (var segment in template.Segments(conv, addGenerationPrompt: false))
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
