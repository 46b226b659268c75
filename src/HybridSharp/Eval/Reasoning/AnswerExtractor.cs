using System.Text.RegularExpressions;

namespace HybridSharp.Eval.Reasoning;

/// <summary>
/// Finds the final answer in a model's output. Rules, first that applies (the common math-evaluation convention):
/// <list type="number">
/// <item>"final answer is $…$. I hope" (Minerva style) → the text between the dollars;</item>
/// <item>the <b>last</b> <c>\boxed{…}</c> or <c>\fbox{…}</c> with balanced braces (<c>\boxed 5$</c> without a brace runs to the next <c>$</c>);</item>
/// <item>the text after the last "the answer is" / "final answer is" up to the end of that line;</item>
/// <item>the last number (integer, decimal, fraction a/b, with sign and thousands commas).</item>
/// </list>
/// The result is cleaned of surrounding whitespace, a leading ':' and trailing '.' or '/'. A box that is never closed (a
/// truncated generation) is not an answer, and an earlier box is not taken in its place.
/// </summary>
public static partial class AnswerExtractor
{
    private static readonly string[] BoxCommands = ["\\boxed", "\\fbox"];

    /// <summary>Content of the last <c>\boxed{…}</c> / <c>\fbox{…}</c>; null when there is none or the last one is unclosed.</summary>
    public static string? LastBoxed(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int start = -1;
        string command = "";
        foreach (var c in BoxCommands)
        {
            int i = text.LastIndexOf(c, StringComparison.Ordinal);
            if (i > start) { start = i; command = c; }
        }
        if (start < 0) return null;
        int pos = start + command.Length;
        while (pos < text.Length && text[pos] == ' ') pos++;
        if (pos < text.Length && text[pos] == '{')
        {
            int depth = 0;
            for (int i = pos; i < text.Length; i++)
            {
                if (text[i] == '{') depth++;
                else if (text[i] == '}' && --depth == 0) return text[(pos + 1)..i];
            }
            return null;
        }
        // "\boxed 5$": up to the next dollar (or the end).
        int end = text.IndexOf('$', pos);
        var bare = (end < 0 ? text[pos..] : text[pos..end]).Trim();
        return bare.Length == 0 ? null : bare;
    }

    /// <summary>Every closed <c>\boxed{…}</c> in order of appearance.</summary>
    public static IReadOnlyList<string> AllBoxed(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var found = new List<string>();
        int from = 0;
        while (true)
        {
            int start = text.IndexOf("\\boxed{", from, StringComparison.Ordinal);
            if (start < 0) break;
            int open = start + "\\boxed".Length, depth = 0, close = -1;
            for (int i = open; i < text.Length; i++)
            {
                if (text[i] == '{') depth++;
                else if (text[i] == '}' && --depth == 0) { close = i; break; }
            }
            if (close < 0) break;
            found.Add(text[(open + 1)..close]);
            from = close + 1;
        }
        return found;
    }

    /// <summary>The final answer by the rules above, or null when the text has none.</summary>
    public static ExtractedAnswer? Extract(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var minerva = MinervaRegex().Matches(text);
        if (minerva.Count > 0) return Make(minerva[^1].Groups["a"].Value, ExtractedAnswer.Minerva);

        bool hasBox = text.Contains("\\boxed", StringComparison.Ordinal) || text.Contains("\\fbox", StringComparison.Ordinal);
        if (hasBox)
        {
            var boxed = LastBoxed(text);
            return boxed is null ? null : Make(boxed, ExtractedAnswer.Boxed);
        }

        var answerIs = AnswerIsRegex().Matches(text);
        if (answerIs.Count > 0)
        {
            var made = Make(answerIs[^1].Groups["a"].Value, ExtractedAnswer.AnswerIs);
            if (made is not null) return made;
        }

        var numbers = NumberRegex().Matches(text);
        return numbers.Count > 0 ? Make(numbers[^1].Value, ExtractedAnswer.LastNumber) : null;
    }

    private static ExtractedAnswer? Make(string raw, string method)
    {
        var s = raw.Replace('\n', ' ').Trim();
        s = s.TrimStart(':').Trim();
        s = s.TrimEnd('.', '/', ' ').Trim();
        if (method == ExtractedAnswer.AnswerIs && s.StartsWith('$') && s.EndsWith('$') && s.Length >= 2) s = s[1..^1].Trim();
        return s.Length == 0 ? null : new ExtractedAnswer(s, method);
    }

    [GeneratedRegex(@"final answer is \$(?<a>.+?)\$\. I hope", RegexOptions.Singleline)]
    private static partial Regex MinervaRegex();

    [GeneratedRegex(@"(?:[Tt]he|[Ff]inal) answer is:?\s*(?<a>[^\n]*)")]
    private static partial Regex AnswerIsRegex();

    [GeneratedRegex(@"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|-?\.\d+")]
    private static partial Regex NumberRegex();
}
