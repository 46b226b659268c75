using System.Globalization;
using System.Text;
using System.Text.Json;
using static HybridSharp.Data.Tokenizers.Hf.HfJson;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>A piece of text during pre-tokenisation; <see cref="First"/> when it starts at the very start of the input.</summary>
internal readonly record struct Piece(string Text, bool First);

/// <summary>
/// A tokenizer.json pre-tokenizer: Split (every behaviour, <c>invert</c>), ByteLevel (<c>add_prefix_space</c>,
/// <c>use_regex</c>), Metaspace (<c>prepend_scheme</c>, <c>split</c>), Digits, Punctuation, Whitespace,
/// WhitespaceSplit and Sequence. Each one splits every current piece into smaller pieces, on code points.
/// </summary>
internal abstract class HfPreTokenizer
{
    /// <summary>The GPT-2 regex that ByteLevel uses with <c>use_regex: true</c>.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>True when this pre-tokenizer (or one in its sequence) maps text to the byte-level alphabet.</summary>
    public virtual bool IsByteLevel => false;

    public abstract void Split(Piece piece, List<Piece> output);

    public List<Piece> Run(List<Piece> pieces)
    {
        var output = new List<Piece>(pieces.Count * 2);
        foreach (var p in pieces) Split(p, output);
        return output;
    }

    /// <summary>Reads the <c>pre_tokenizer</c> element; null for JSON null.</summary>
    public static HfPreTokenizer? Read(JsonElement el)
    {
        if (el.ValueKind == JsonValueKind.Null) return null;
        var type = Type(el, "pre_tokenizer");
        switch (type)
        {
            case "Sequence":
                return new Sequence(List(el, "pretokenizers").Select(Read).OfType<HfPreTokenizer>().ToArray());
            case "Split":
                return new RegexSplit(Pattern(el, "Split pre-tokenizer"), ReadBehavior(GetString(el, "behavior") ?? "Isolated"), GetBool(el, "invert") ?? false);
            case "ByteLevel":
                return new ByteLevel(GetBool(el, "add_prefix_space") ?? true, GetBool(el, "use_regex") ?? true);
            case "Metaspace":
                var replacement = Char(el, "replacement", "\u2581", "Metaspace pre-tokenizer");
                var scheme = GetString(el, "prepend_scheme") ?? ((GetBool(el, "add_prefix_space") ?? true) ? "always" : "never");
                if (scheme is not ("always" or "first" or "never"))
                    throw new ArgumentException($"Metaspace prepend_scheme '{scheme}' is not one of always, first, never");
                return new Metaspace(replacement, scheme, GetBool(el, "split") ?? true);
            case "Digits":
                return new ByCharacter(IsNumeric, GetBool(el, "individual_digits") == true ? SplitBehavior.Isolated : SplitBehavior.Contiguous);
            case "Punctuation":
                return new ByCharacter(IsPunctuation, ReadBehavior(GetString(el, "behavior") ?? "Isolated"));
            case "Whitespace":
                return new RegexSplit(new CodePointRegex(@"\w+|[^\w\s]+"), SplitBehavior.Removed, invert: true);
            case "WhitespaceSplit":
                return new ByCharacter(IsWhitespace, SplitBehavior.Removed);
            default:
                throw new ArgumentException(
                    $"pre-tokenizer '{type}' is not supported (supported: Split, ByteLevel, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, Sequence)");
        }
    }

    private static SplitBehavior ReadBehavior(string name) => name switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        _ => throw new ArgumentException($"split behavior '{name}' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous"),
    };

    private static bool IsNumeric(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    private static bool IsWhitespace(Rune r) => Rune.IsWhiteSpace(r);

    private static bool IsPunctuation(Rune r) =>
        (r.Value < 128 && char.IsAsciiLetterOrDigit((char)r.Value) is false && r.Value > 32 && r.Value < 127)
        || Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    /// <summary>
    /// Cuts <paramref name="text"/> at the given (start, end, isMatch) spans, which cover it in order, according to
    /// <paramref name="behavior"/>, as HF tokenizers' <c>split</c> does; empty pieces are dropped.
    /// </summary>
    internal static void Apply(Piece piece, List<(int Start, int End, bool IsMatch)> spans, SplitBehavior behavior, List<Piece> output)
    {
        var merged = new List<(int Start, int End, bool IsMatch)>(spans.Count);
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var s in spans) if (!s.IsMatch) merged.Add(s);
                break;
            case SplitBehavior.Isolated:
                merged.AddRange(spans);
                break;
            case SplitBehavior.MergedWithPrevious:
            {
                bool previousMatch = false;
                foreach (var s in spans)
                {
                    if (s.IsMatch && !previousMatch && merged.Count > 0) merged[^1] = (merged[^1].Start, s.End, false);
                    else merged.Add((s.Start, s.End, false));
                    previousMatch = s.IsMatch;
                }
                break;
            }
            case SplitBehavior.MergedWithNext:
            {
                bool previousMatch = false;
                for (int i = spans.Count - 1; i >= 0; i--)
                {
                    var s = spans[i];
                    if (s.IsMatch && !previousMatch && merged.Count > 0) merged[^1] = (s.Start, merged[^1].End, false);
                    else merged.Add((s.Start, s.End, false));
                    previousMatch = s.IsMatch;
                }
                merged.Reverse();
                break;
            }
            case SplitBehavior.Contiguous:
            {
                bool previousMatch = false;
                foreach (var s in spans)
                {
                    if (s.IsMatch == previousMatch && merged.Count > 0) merged[^1] = (merged[^1].Start, s.End, false);
                    else merged.Add((s.Start, s.End, false));
                    previousMatch = s.IsMatch;
                }
                break;
            }
        }
        foreach (var (start, end, _) in merged)
            if (end > start) output.Add(new Piece(piece.Text[start..end], piece.First && start == 0));
    }

    /// <summary>(start, end, isMatch) spans covering <paramref name="text"/>: the matches and the text between them.</summary>
    internal static List<(int Start, int End, bool IsMatch)> Spans(string text, IEnumerable<(int Start, int Length)> matches, bool invert)
    {
        var spans = new List<(int, int, bool)>();
        int prev = 0;
        foreach (var (start, length) in matches)
        {
            if (prev != start) spans.Add((prev, start, invert));
            spans.Add((start, start + length, !invert));
            prev = start + length;
        }
        if (prev != text.Length) spans.Add((prev, text.Length, invert));
        return spans;
    }

    private sealed class RegexSplit(CodePointRegex? pattern, SplitBehavior behavior, bool invert) : HfPreTokenizer
    {
        public override void Split(Piece piece, List<Piece> output)
        {
            var matches = pattern?.Matches(piece.Text) ?? [];
            Apply(piece, Spans(piece.Text, matches, invert), behavior, output);
        }
    }

    private sealed class ByCharacter(Func<Rune, bool> predicate, SplitBehavior behavior) : HfPreTokenizer
    {
        public override void Split(Piece piece, List<Piece> output)
        {
            var matches = new List<(int, int)>();
            int i = 0;
            foreach (var r in piece.Text.EnumerateRunes())
            {
                if (predicate(r)) matches.Add((i, r.Utf16SequenceLength));
                i += r.Utf16SequenceLength;
            }
            Apply(piece, Spans(piece.Text, matches, invert: false), behavior, output);
        }
    }

    private sealed class ByteLevel(bool addPrefixSpace, bool useRegex) : HfPreTokenizer
    {
        private static readonly CodePointRegex Gpt2 = new(Gpt2Pattern);

        public override bool IsByteLevel => true;

        public override void Split(Piece piece, List<Piece> output)
        {
            var text = piece.Text;
            if (addPrefixSpace && !text.StartsWith(' ')) text = " " + text;
            var parts = new List<Piece>();
            if (useRegex) Apply(new Piece(text, piece.First), Spans(text, Gpt2.Matches(text), invert: false), SplitBehavior.Isolated, parts);
            else parts.Add(new Piece(text, piece.First));
            foreach (var p in parts) output.Add(p with { Text = ByteLevelMap.Encode(Encoding.UTF8.GetBytes(p.Text)) });
        }
    }

    private sealed class Metaspace(string replacement, string prependScheme, bool split) : HfPreTokenizer
    {
        public override void Split(Piece piece, List<Piece> output)
        {
            var text = piece.Text.Replace(" ", replacement, StringComparison.Ordinal);
            bool prepend = prependScheme == "always" || (prependScheme == "first" && piece.First);
            if (prepend && !text.StartsWith(replacement, StringComparison.Ordinal)) text = replacement + text;
            if (!split)
            {
                output.Add(new Piece(text, piece.First));
                return;
            }
            var matches = new List<(int, int)>();
            for (int i = text.IndexOf(replacement, StringComparison.Ordinal); i >= 0; i = text.IndexOf(replacement, i + replacement.Length, StringComparison.Ordinal))
                matches.Add((i, replacement.Length));
            Apply(new Piece(text, piece.First), Spans(text, matches, invert: false), SplitBehavior.MergedWithNext, output);
        }
    }

    private sealed class Sequence(HfPreTokenizer[] steps) : HfPreTokenizer
    {
        public override bool IsByteLevel => steps.Any(s => s.IsByteLevel);

        public override void Split(Piece piece, List<Piece> output)
        {
            var pieces = new List<Piece> { piece };
            foreach (var s in steps) pieces = s.Run(pieces);
            output.AddRange(pieces);
        }
    }
}

/// <summary>What a split does with the matched parts (HF tokenizers' SplitDelimiterBehavior).</summary>
internal enum SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }
