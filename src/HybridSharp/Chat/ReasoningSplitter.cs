using System.Text;

namespace HybridSharp.Chat;

/// <summary>
/// Separates a thinking model's reply into reasoning and answer as it streams: text inside <c>&lt;think&gt;…&lt;/think&gt;</c>
/// is reasoning, the rest is content (Qwen3, QwQ and DeepSeek-R1 write this way). A reply may open with the tag (after
/// optional whitespace), or start inside the reasoning when the prompt itself ended with <c>&lt;think&gt;</c>. Newlines
/// right after the closing tag are dropped, as the models' own templates drop them when the turn is replayed. Text that
/// could still become a tag is held back until it is decided, so no piece ever contains part of a tag.
/// </summary>
public sealed class ReasoningSplitter
{
    public const string Open = "<think>", Close = "</think>";

    private enum State { Start, Reasoning, AfterClose, Content }

    private readonly StringBuilder _pending = new();
    private State _state;

    /// <param name="startsInReasoning">The prompt ended with the opening tag, so the reply begins inside the reasoning.</param>
    public ReasoningSplitter(bool startsInReasoning = false)
    {
        _state = startsInReasoning ? State.Reasoning : State.Start;
        SawReasoning = startsInReasoning;
    }

    /// <summary>True once the reply has entered a reasoning block.</summary>
    public bool SawReasoning { get; private set; }

    /// <summary>True when a chat template's replies think in tags (it mentions the closing tag).</summary>
    public static bool AppliesTo(ChatTemplate template) => template.Text.Contains(Close, StringComparison.Ordinal);

    /// <summary>True when <paramref name="prompt"/> leaves the model inside an open reasoning block.</summary>
    public static bool PromptOpensReasoning(string prompt)
    {
        var trimmed = prompt.AsSpan().TrimEnd();
        return trimmed.EndsWith(Open, StringComparison.Ordinal);
    }

    /// <summary>Feeds generated text; returns the reasoning and content it completes (either may be empty).</summary>
    public (string Reasoning, string Content) Push(string text)
    {
        _pending.Append(text);
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        while (_pending.Length > 0)
        {
            var s = _pending.ToString();
            switch (_state)
            {
                case State.Start:
                {
                    var lead = s.TrimStart();
                    if (lead.StartsWith(Open, StringComparison.Ordinal))
                    {
                        Consume(s.Length - lead.Length + Open.Length);
                        _state = State.Reasoning;
                        SawReasoning = true;
                        continue;
                    }
                    if (Open.StartsWith(lead, StringComparison.Ordinal)) return Result(); // whitespace or a partial tag: wait
                    _state = State.Content;
                    continue;
                }
                case State.Reasoning:
                {
                    int end = s.IndexOf(Close, StringComparison.Ordinal);
                    if (end >= 0)
                    {
                        reasoning.Append(s, 0, end);
                        Consume(end + Close.Length);
                        _state = State.AfterClose;
                        continue;
                    }
                    int keep = PartialSuffix(s, Close);
                    reasoning.Append(s, 0, s.Length - keep);
                    Consume(s.Length - keep);
                    return Result();
                }
                case State.AfterClose:
                {
                    int skip = 0;
                    while (skip < s.Length && s[skip] is '\n' or '\r') skip++;
                    Consume(skip);
                    if (skip == s.Length) return Result();
                    _state = State.Content;
                    continue;
                }
                default:
                    content.Append(s);
                    _pending.Clear();
                    break;
            }
        }
        return Result();

        (string, string) Result() => (reasoning.ToString(), content.ToString());
    }

    /// <summary>Whatever is held back at the end of generation (an unclosed reasoning block stays reasoning).</summary>
    public (string Reasoning, string Content) Flush()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return _state == State.Reasoning ? (rest, "") : ("", _state == State.AfterClose ? "" : rest);
    }

    /// <summary>Splits a whole reply at once; reasoning is null when the reply has no reasoning block.</summary>
    public static (string? Reasoning, string Content) Split(string reply, bool startsInReasoning = false)
    {
        var splitter = new ReasoningSplitter(startsInReasoning);
        var (r1, c1) = splitter.Push(reply);
        var (r2, c2) = splitter.Flush();
        return (splitter.SawReasoning ? r1 + r2 : null, c1 + c2);
    }

    private void Consume(int count) => _pending.Remove(0, count);

    /// <summary>Length of the longest suffix of <paramref name="s"/> that is a proper prefix of <paramref name="tag"/>.</summary>
    internal static int PartialSuffix(string s, string tag)
    {
        for (int n = Math.Min(tag.Length - 1, s.Length); n > 0; n--)
            if (s.AsSpan(s.Length - n).SequenceEqual(tag.AsSpan(0, n))) return n;
        return 0;
    }
}
