using System.Globalization;
using System.Text;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>One entry of tokenizer.json's <c>added_tokens</c>.</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord);

/// <summary>
/// Finds added tokens in text as HF tokenizers does: leftmost-longest matches, skipped when <c>single_word</c> and the
/// match touches a word character, widened over neighbouring whitespace for <c>lstrip</c> / <c>rstrip</c>. One
/// matcher holds the tokens matched on raw text (<c>normalized: false</c>), another those matched after normalisation.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public AddedToken? Token;
    }

    private readonly Node _root = new();

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        foreach (var t in tokens)
        {
            if (t.Content.Length == 0) continue;
            var node = _root;
            foreach (var c in t.Content)
            {
                node.Children ??= new Dictionary<char, Node>();
                if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new Node();
                node = child;
            }
            node.Token ??= t;
            Count++;
        }
    }

    public int Count { get; }

    /// <summary>The text as alternating pieces: (text, null) for ordinary text, (content, token) for an added token.</summary>
    public List<(string Text, AddedToken? Token)> Split(string text)
    {
        var result = new List<(string, AddedToken?)>();
        if (Count == 0 || text.Length == 0)
        {
            if (text.Length > 0) result.Add((text, null));
            return result;
        }
        int emitted = 0, pos = 0;
        while (pos < text.Length)
        {
            var (token, length) = LongestAt(text, pos);
            if (token is null)
            {
                pos++;
                continue;
            }
            int start = pos, stop = pos + length;
            if (token.SingleWord)
            {
                bool startOk = start == 0 || !IsWordChar(text, start, before: true);
                bool stopOk = stop == text.Length || !IsWordChar(text, stop, before: false);
                if (!startOk || !stopOk)
                {
                    pos = stop; // the skipped match is consumed, as a non-overlapping search does
                    continue;
                }
            }
            if (token.LStrip)
            {
                int s = start;
                while (s > 0 && char.IsWhiteSpace(text[s - 1])) s--;
                start = Math.Max(s, emitted);
            }
            if (token.RStrip)
                while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
            if (emitted < start) result.Add((text[emitted..start], null));
            result.Add((text[start..stop], token));
            emitted = stop;
            pos = pos + length;
            if (pos < stop) pos = stop;
        }
        if (emitted < text.Length) result.Add((text[emitted..], null));
        return result;
    }

    private (AddedToken? Token, int Length) LongestAt(string text, int pos)
    {
        AddedToken? best = null;
        int bestLength = 0;
        var node = _root;
        for (int i = pos; i < text.Length; i++)
        {
            if (node.Children is null || !node.Children.TryGetValue(text[i], out node)) break;
            if (node.Token is not null)
            {
                best = node.Token;
                bestLength = i - pos + 1;
            }
        }
        return (best, bestLength);
    }

    private static bool IsWordChar(string text, int index, bool before)
    {
        Rune r;
        if (before)
        {
            if (Rune.DecodeLastFromUtf16(text.AsSpan(0, index), out r, out _) != System.Buffers.OperationStatus.Done) return false;
        }
        else if (Rune.DecodeFromUtf16(text.AsSpan(index), out r, out _) != System.Buffers.OperationStatus.Done) return false;
        return Rune.IsLetterOrDigit(r) || r.Value == '_' || Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
    }
}
