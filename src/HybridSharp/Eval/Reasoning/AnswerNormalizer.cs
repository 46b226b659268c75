using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace HybridSharp.Eval.Reasoning;

/// <summary>
/// Normalises and compares final answers in the spirit of the standard math-evaluation graders:
/// LaTeX spelling variants (<c>\dfrac</c>, <c>\left</c>, <c>\text{…}</c>, degree marks, <c>$</c>, <c>%</c>), trailing
/// units, short "x =" left sides, number words, trailing zeros, <c>\frac12</c> / <c>a/b</c> forms and spaces are made
/// uniform; then answers are equal as strings (case-insensitive), as multiple-choice letters, as numbers (relative
/// tolerance 1e-4 unless the caller gives another; with a % on either side also ×100 / ÷100), after stripping brackets, or element-wise for tuples,
/// intervals and <c>pmatrix</c>. Symbolic equality (what sympy would decide) is not attempted: such pairs come back as
/// <see cref="AnswerMatch.NeedsSymbolic"/>.
/// </summary>
public static partial class AnswerNormalizer
{
    /// <summary>Default relative tolerance of numeric equality (the math graders' convention).</summary>
    public const double RelativeTolerance = 1e-4;

    private static readonly string[] UnitWords =
    [
        "degrees", "degree", "units", "unit", "square", "sq", "cubic", "meters", "meter", "metres", "metre", "cm", "mm", "km", "m",
        "inches", "inch", "feet", "foot", "ft", "yards", "yard", "miles", "mile", "mph", "hours", "hour", "hrs", "hr",
        "minutes", "minute", "min", "seconds", "second", "sec", "s", "days", "day", "weeks", "week", "years", "year",
        "dollars", "dollar", "cents", "cent", "pounds", "pound", "lbs", "lb", "kg", "grams", "gram", "g", "liters", "liter",
        "litres", "litre", "ml", "people", "students", "apples", "marbles", "books", "items", "points", "times", "ways",
    ];

    private static readonly Dictionary<string, string> NumberWords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5", ["six"] = "6",
        ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10", ["eleven"] = "11", ["twelve"] = "12",
        ["thirteen"] = "13", ["fourteen"] = "14", ["fifteen"] = "15", ["sixteen"] = "16", ["seventeen"] = "17",
        ["eighteen"] = "18", ["nineteen"] = "19", ["twenty"] = "20", ["thirty"] = "30", ["forty"] = "40", ["fifty"] = "50",
        ["hundred"] = "100", ["thousand"] = "1000", ["million"] = "1000000",
    };

    /// <summary>The canonical spelling of an answer (see the class summary for the rules).</summary>
    public static string Normalize(string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var s = answer.Replace('\n', ' ').Trim();
        s = s.Replace("\\!", "", StringComparison.Ordinal)
             .Replace("\\,", "", StringComparison.Ordinal)
             .Replace("\\;", "", StringComparison.Ordinal)
             .Replace("\\dfrac", "\\frac", StringComparison.Ordinal)
             .Replace("\\tfrac", "\\frac", StringComparison.Ordinal)
             .Replace("\\neq", "\\ne", StringComparison.Ordinal)
             .Replace("\\leq", "\\le", StringComparison.Ordinal)
             .Replace("\\geq", "\\ge", StringComparison.Ordinal)
             .Replace("\\left", "", StringComparison.Ordinal)
             .Replace("\\right", "", StringComparison.Ordinal)
             .Replace("\\{", "{", StringComparison.Ordinal)
             .Replace("\\}", "}", StringComparison.Ordinal)
             .Replace("\\$", "", StringComparison.Ordinal)
             .Replace("$", "", StringComparison.Ordinal)
             .Replace("\\(", "", StringComparison.Ordinal)
             .Replace("\\)", "", StringComparison.Ordinal)
             .Replace("\\%", "%", StringComparison.Ordinal)
             .Replace("°", "", StringComparison.Ordinal);
        s = DegreeRegex().Replace(s, "");
        s = TrailingTextUnitRegex().Replace(s, "").Trim();
        s = UnwrapRegex().Replace(s, m => m.Groups["c"].Value);
        s = s.Replace("\\emptyset", "{}", StringComparison.Ordinal).Replace("\\varnothing", "{}", StringComparison.Ordinal);
        s = DropTrailingUnitWords(s);
        s = ShortLeftSideRegex().Replace(s, "");
        if (NumberWords.TryGetValue(s.Trim(), out var word)) s = word;
        s = s.Trim();
        if (s is "infinity" or "inf" or "+\\infty") s = "\\infty";
        s = AndRegex().Replace(s, ",");
        s = SqrtShortRegex().Replace(s, m => $"\\sqrt{{{m.Groups["a"].Value}}}");
        s = FracShortRegex().Replace(s, m => $"\\frac{{{m.Groups["a"].Value}}}{{{m.Groups["b"].Value}}}");
        s = WhitespaceRegex().Replace(s, "");
        if (ThousandsRegex().IsMatch(s)) s = s.Replace(",", "", StringComparison.Ordinal);
        s = SlashFractionRegex().Replace(s, m => $"{m.Groups["sign"].Value}\\frac{{{m.Groups["a"].Value}}}{{{m.Groups["b"].Value}}}");
        if (s.StartsWith('.')) s = "0" + s;
        else if (s.StartsWith("-.", StringComparison.Ordinal)) s = "-0" + s[1..];
        s = TrailingZerosRegex().Replace(s, m => m.Groups["i"].Value + (m.Groups["f"].Value.Length > 0 ? "." + m.Groups["f"].Value : ""));
        return s;
    }

    /// <summary>
    /// True when <paramref name="predicted"/> and <paramref name="reference"/> are the same answer; numbers are equal within
    /// <paramref name="relativeTolerance"/> (exact-integer tasks pass a tighter one than the 1e-4 default).
    /// </summary>
    public static bool Equivalent(string? predicted, string reference, double relativeTolerance = RelativeTolerance) =>
        Compare(predicted, reference, relativeTolerance) == AnswerMatch.Equal;

    /// <summary>Compares two answers (numbers within <paramref name="relativeTolerance"/>); see <see cref="AnswerMatch"/>.</summary>
    public static AnswerMatch Compare(string? predicted, string reference, double relativeTolerance = RelativeTolerance)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentOutOfRangeException.ThrowIfNegative(relativeTolerance);
        if (string.IsNullOrWhiteSpace(predicted)) return AnswerMatch.Different;
        var p = Normalize(predicted);
        var r = Normalize(reference);
        return CompareNormalized(p, r, relativeTolerance, depth: 0);
    }

    private static AnswerMatch CompareNormalized(string p, string r, double tolerance, int depth)
    {
        bool Close(double a, double b) => Math.Abs(a - b) <= tolerance * Math.Max(1e-12, Math.Max(Math.Abs(a), Math.Abs(b))) || a == b;

        if (string.Equals(p, r, StringComparison.OrdinalIgnoreCase)) return AnswerMatch.Equal;

        // Multiple choice: a lone letter reference matches "(B)", "B)", "B." spellings.
        if (r.Length == 1 && char.IsAsciiLetterUpper(r[0]))
        {
            var letter = ChoiceRegex().Match(p);
            return letter.Success && letter.Groups["l"].Value == r ? AnswerMatch.Equal : AnswerMatch.Different;
        }

        bool percent = p.Contains('%') || r.Contains('%');
        if (TryNumber(p, out double pv) && TryNumber(r, out double rv))
        {
            if (Close(pv, rv)) return AnswerMatch.Equal;
            if (percent && (Close(pv, rv / 100) || Close(pv, rv * 100))) return AnswerMatch.Equal;
            return AnswerMatch.Different;
        }

        if (depth < 4)
        {
            var pe = Elements(p);
            var re = Elements(r);
            if (pe is not null && re is not null && pe.Value.Open == re.Value.Open && pe.Value.Close == re.Value.Close)
            {
                if (pe.Value.Items.Count != re.Value.Items.Count) return AnswerMatch.Different;
                var worst = AnswerMatch.Equal;
                for (int i = 0; i < pe.Value.Items.Count; i++)
                {
                    var m = CompareNormalized(pe.Value.Items[i], re.Value.Items[i], tolerance, depth + 1);
                    if (m == AnswerMatch.Different) return AnswerMatch.Different;
                    if (m == AnswerMatch.NeedsSymbolic) worst = m;
                }
                return worst;
            }
            // "{1,2}" against "1,2" — but an open and a closed interval are different answers.
            bool mixedIntervals = p.Length > 0 && r.Length > 0 && "([".Contains(p[0]) && "([".Contains(r[0]) && p[0] != r[0];
            var ps = StripBrackets(p);
            var rs = StripBrackets(r);
            if (!mixedIntervals && (ps != p || rs != r) && string.Equals(ps, rs, StringComparison.OrdinalIgnoreCase)) return AnswerMatch.Equal;

            // Equations: "a=b" against "b=a" or against the same sides.
            var pq = p.Split('=');
            var rq = r.Split('=');
            if (pq.Length == 2 && rq.Length == 2 &&
                string.Equals(pq[0], rq[1], StringComparison.OrdinalIgnoreCase) && string.Equals(pq[1], rq[0], StringComparison.OrdinalIgnoreCase))
                return AnswerMatch.Equal;
        }

        return IsSymbolic(p) && IsSymbolic(r) ? AnswerMatch.NeedsSymbolic : AnswerMatch.Different;
    }

    /// <summary>
    /// Parses a normalised answer as a number: decimals, <c>\frac{a}{b}</c> (signed), <c>\sqrt{n}</c>, <c>a\sqrt{n}</c>,
    /// percentages (value/100 is not applied here; "%" is dropped) and thousands commas.
    /// </summary>
    public static bool TryNumber(string normalized, out double value)
    {
        value = 0;
        var s = normalized.Replace("%", "", StringComparison.Ordinal);
        if (s.Length == 0) return false;
        if (ThousandsRegex().IsMatch(s)) s = s.Replace(",", "", StringComparison.Ordinal);
        if (double.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value))
            return double.IsFinite(value);
        var frac = FracRegex().Match(s);
        if (frac.Success && TryNumber(frac.Groups["a"].Value, out double a) && TryNumber(frac.Groups["b"].Value, out double b) && b != 0)
        {
            value = (frac.Groups["sign"].Value == "-" ? -1 : 1) * a / b;
            return true;
        }
        var sqrt = SqrtRegex().Match(s);
        if (sqrt.Success && TryNumber(sqrt.Groups["n"].Value, out double n) && n >= 0)
        {
            string coef = sqrt.Groups["c"].Value;
            double c = coef switch { "" or "+" => 1, "-" => -1, _ => double.TryParse(coef, NumberStyles.Float, CultureInfo.InvariantCulture, out var cv) ? cv : double.NaN };
            value = c * Math.Sqrt(n);
            return double.IsFinite(value);
        }
        return false;
    }

    private static string DropTrailingUnitWords(string s)
    {
        // "12 cm", "5 apples", "3 square meters": a number (or simple expression) followed only by unit words.
        var m = TrailingWordsRegex().Match(s);
        if (!m.Success) return s;
        var words = m.Groups["w"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.All(w => UnitWords.Contains(w.TrimEnd('.'), StringComparer.OrdinalIgnoreCase)))
            return m.Groups["v"].Value.Trim();
        return s;
    }

    private static (char Open, char Close, List<string> Items)? Elements(string s)
    {
        var pm = PmatrixRegex().Match(s);
        if (pm.Success)
        {
            var rows = pm.Groups["b"].Value.Split("\\\\", StringSplitOptions.RemoveEmptyEntries);
            return ('m', 'm', rows.SelectMany(row => row.Split('&')).Select(x => x.Trim()).ToList());
        }
        if (s.Length < 3 || "([{".IndexOf(s[0]) < 0 || ")]}".IndexOf(s[^1]) < 0) return null;
        var items = SplitTopLevel(s[1..^1]);
        return items.Count < 2 ? null : (s[0], s[^1], items);
    }

    private static List<string> SplitTopLevel(string s)
    {
        var items = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth--;
            else if (c == ',' && depth == 0) { items.Add(s[start..i]); start = i + 1; }
        }
        items.Add(s[start..]);
        return items;
    }

    private static string StripBrackets(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s) if ("()[]{}".IndexOf(c) < 0) sb.Append(c);
        return sb.ToString();
    }

    private static bool IsSymbolic(string s) => s.Any(char.IsAsciiLetter) || s.Contains('\\');

    [GeneratedRegex(@"\^\s*\{?\s*\\circ\s*\}?")]
    private static partial Regex DegreeRegex();

    [GeneratedRegex(@"\\(?:text|mbox)\{\s*[A-Za-z][A-Za-z .^0-9]*\}\s*$")]
    private static partial Regex TrailingTextUnitRegex();

    [GeneratedRegex(@"\\(?:text|textbf|mathrm|mathbf|mbox|operatorname)\{(?<c>[^{}]*)\}")]
    private static partial Regex UnwrapRegex();

    [GeneratedRegex(@"^\s*[A-Za-z]{1,2}(?:_\{?\w+\}?)?\s*=\s*(?=\S)")]
    private static partial Regex ShortLeftSideRegex();

    [GeneratedRegex(@"\s+and\s+")]
    private static partial Regex AndRegex();

    [GeneratedRegex(@"\\sqrt(?<a>\d)")]
    private static partial Regex SqrtShortRegex();

    [GeneratedRegex(@"\\frac(?<a>\d)(?<b>\d)")]
    private static partial Regex FracShortRegex();

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhitespaceRegex();

    [GeneratedRegex(@"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?%?$")]
    private static partial Regex ThousandsRegex();

    [GeneratedRegex(@"^(?<sign>-?)(?<a>\d+)/(?<b>\d+)$")]
    private static partial Regex SlashFractionRegex();

    [GeneratedRegex(@"(?<![\d.])(?<i>-?\d+)\.(?<f>\d*?)0+(?![\d])")]
    private static partial Regex TrailingZerosRegex();

    [GeneratedRegex(@"^(?<sign>[+-]?)\\frac\{(?<a>[^{}]+)\}\{(?<b>[^{}]+)\}$")]
    private static partial Regex FracRegex();

    [GeneratedRegex(@"^(?<c>[+-]?(?:\d+(?:\.\d+)?)?)\\sqrt\{(?<n>[^{}]+)\}$")]
    private static partial Regex SqrtRegex();

    [GeneratedRegex(@"^\(?(?<l>[A-E])(?:[).:].*)?$")]
    private static partial Regex ChoiceRegex();

    [GeneratedRegex(@"\\begin\{pmatrix\}(?<b>.*)\\end\{pmatrix\}")]
    private static partial Regex PmatrixRegex();

    [GeneratedRegex(@"^(?<v>[-+]?[\d.,/\\{}a-z^]+?)\s+(?<w>[A-Za-z][A-Za-z. ]*)$")]
    private static partial Regex TrailingWordsRegex();
}
