using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>
/// A .NET <see cref="Regex"/> that matches on Unicode code points, as the regex engines of HF tokenizers (Oniguruma)
/// and JavaScript's <c>u</c> mode do. .NET regexes see UTF-16 code units: <c>\p{L}</c> never matches a letter outside
/// the Basic Multilingual Plane and <c>[^\s\p{L}\p{N}]</c> matches half of a surrogate pair. Before matching, every
/// supplementary code point is therefore replaced by one BMP stand-in character of the same general category (a
/// character of a rarely used script, never one a tokenizer pattern names literally); match positions are mapped back
/// to the original string, so a match never ends inside a pair and category tests see the right category.
/// </summary>
internal sealed class CodePointRegex
{
    private static readonly ConcurrentDictionary<string, Regex> Cache = new(StringComparer.Ordinal);
    private static readonly char[] StandIns = BuildStandIns();

    private readonly Regex _regex;

    /// <summary>Compiles <paramref name="pattern"/> (cached per pattern).</summary>
    /// <exception cref="ArgumentException">The pattern is not a valid .NET regex.</exception>
    public CodePointRegex(string pattern)
    {
        Pattern = pattern;
        _regex = Cache.GetOrAdd(pattern, static p => new Regex(p, RegexOptions.Compiled | RegexOptions.CultureInvariant));
    }

    /// <summary>The pattern as written in tokenizer.json.</summary>
    public string Pattern { get; }

    /// <summary>Non-overlapping matches, left to right, as (start, length) in UTF-16 indices of <paramref name="text"/>.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        var result = new List<(int, int)>();
        int surrogate = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (surrogate < 0)
        {
            foreach (var m in _regex.EnumerateMatches(text)) result.Add((m.Index, m.Length));
            return result;
        }
        var (mapped, starts) = Substitute(text);
        foreach (var m in _regex.EnumerateMatches(mapped))
        {
            int start = starts[m.Index], end = starts[m.Index + m.Length];
            result.Add((start, end - start));
        }
        return result;
    }

    /// <summary>
    /// The text with each supplementary code point replaced by its stand-in, and for each index of that text (plus
    /// one past the end) the index in <paramref name="text"/> where it starts.
    /// </summary>
    internal static (string Mapped, int[] Starts) Substitute(string text)
    {
        var chars = new char[text.Length];
        var starts = new int[text.Length + 1];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            starts[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int cp = char.ConvertToUtf32(text[i], text[i + 1]);
                chars[n++] = StandIns[(int)CharUnicodeInfo.GetUnicodeCategory(cp)];
                i++;
            }
            else chars[n++] = text[i];
        }
        starts[n] = text.Length;
        return (new string(chars, 0, n), starts);
    }

    private static char[] BuildStandIns()
    {
        // One BMP character per general category, from scripts tokenizer patterns do not name.
        var table = new char[32];
        void Set(UnicodeCategory category, char c)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) != category)
                throw new InvalidOperationException($"stand-in U+{(int)c:X4} is not of category {category}");
            table[(int)category] = c;
        }
        Set(UnicodeCategory.UppercaseLetter, '\uA640');
        Set(UnicodeCategory.LowercaseLetter, '\uA641');
        Set(UnicodeCategory.TitlecaseLetter, '\u01C5');
        Set(UnicodeCategory.ModifierLetter, '\uA67F');
        Set(UnicodeCategory.OtherLetter, '\uA500');
        Set(UnicodeCategory.NonSpacingMark, '\uA66F');
        Set(UnicodeCategory.SpacingCombiningMark, '\uA823');
        Set(UnicodeCategory.EnclosingMark, '\uA670');
        Set(UnicodeCategory.DecimalDigitNumber, '\uA620');
        Set(UnicodeCategory.LetterNumber, '\uA6E6');
        Set(UnicodeCategory.OtherNumber, '\uA830');
        Set(UnicodeCategory.SpaceSeparator, '\u2007');
        Set(UnicodeCategory.LineSeparator, '\u2028');
        Set(UnicodeCategory.ParagraphSeparator, '\u2029');
        Set(UnicodeCategory.Control, '\u0085');
        Set(UnicodeCategory.Format, '\uFFF9');
        Set(UnicodeCategory.Surrogate, '\uD800');
        Set(UnicodeCategory.PrivateUse, '\uE000');
        Set(UnicodeCategory.ConnectorPunctuation, '\uFE4D');
        Set(UnicodeCategory.DashPunctuation, '\uFE58');
        Set(UnicodeCategory.OpenPunctuation, '\uFE59');
        Set(UnicodeCategory.ClosePunctuation, '\uFE5A');
        Set(UnicodeCategory.InitialQuotePunctuation, '\u2E02');
        Set(UnicodeCategory.FinalQuotePunctuation, '\u2E03');
        Set(UnicodeCategory.OtherPunctuation, '\uA60D');
        Set(UnicodeCategory.MathSymbol, '\u2A00');
        Set(UnicodeCategory.CurrencySymbol, '\uA838');
        Set(UnicodeCategory.ModifierSymbol, '\uA700');
        Set(UnicodeCategory.OtherSymbol, '\uA828');
        Set(UnicodeCategory.OtherNotAssigned, '\uFDD0');
        return table;
    }
}
