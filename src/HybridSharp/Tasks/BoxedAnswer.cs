using System.Globalization;
using System.Text.RegularExpressions;

namespace HybridSharp.Tasks;

/// <summary>Extracts <c>\boxed{...}</c> answers from model output and compares answers numerically.</summary>
public static partial class BoxedAnswer
{
    private const string BoxedOpen = "\\boxed{";

    /// <summary>Relative tolerance used by <see cref="NumericallyEqual"/>.</summary>
    public const double RelativeTolerance = 1e-6;

    /// <summary>
    /// Returns the content of the last <c>\boxed{...}</c> in <paramref name="text"/>, honouring nested braces
    /// (<c>\boxed{\frac{1}{2}}</c> gives <c>\frac{1}{2}</c>). Returns null when there is no box or when the last box is
    /// never closed (e.g. a truncated generation): an earlier box is not taken as the final answer.
    /// </summary>
    public static string? ExtractLast(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int start = text.LastIndexOf(BoxedOpen, StringComparison.Ordinal);
        if (start < 0) return null;
        int contentStart = start + BoxedOpen.Length;
        int depth = 1;
        for (int i = contentStart; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '{') depth++;
            else if (c == '}' && --depth == 0) return text[contentStart..i];
        }
        return null;
    }

    /// <summary>
    /// True when both strings denote the same number (within <see cref="RelativeTolerance"/>), or, when either is not
    /// a number, when they are equal after trimming. Accepted numbers: integers and decimals with optional sign
    /// (leading <c>+</c> allowed), surrounding whitespace and <c>$</c>, commas as thousands separators ("1,000"),
    /// and fractions "a/b", <c>\frac{a}{b}</c>, <c>\dfrac{a}{b}</c>, <c>\tfrac{a}{b}</c>. A null prediction is never equal.
    /// </summary>
    public static bool NumericallyEqual(string? predicted, string expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (predicted is null) return false;
        if (TryParseNumber(predicted, out double p) && TryParseNumber(expected, out double e))
        {
            double scale = Math.Max(1.0, Math.Max(Math.Abs(p), Math.Abs(e)));
            return Math.Abs(p - e) <= RelativeTolerance * scale;
        }
        return string.Equals(predicted.Trim(), expected.Trim(), StringComparison.Ordinal);
    }

    /// <summary>Parses a number in any of the forms <see cref="NumericallyEqual"/> accepts.</summary>
    public static bool TryParseNumber(string text, out double value)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = 0;
        string s = WhitespaceRegex().Replace(text, "").Trim('$');
        if (s.Length == 0) return false;

        var frac = LatexFractionRegex().Match(s);
        if (frac.Success) return TryDivide(frac.Groups["sign"].Value, frac.Groups["num"].Value, frac.Groups["den"].Value, out value);

        var slash = SlashFractionRegex().Match(s);
        if (slash.Success) return TryDivide(slash.Groups["sign"].Value, slash.Groups["num"].Value, slash.Groups["den"].Value, out value);

        return TryParseDecimal(s, out value);
    }

    private static bool TryDivide(string sign, string numerator, string denominator, out double value)
    {
        value = 0;
        if (!TryParseDecimal(numerator, out double n) || !TryParseDecimal(denominator, out double d) || d == 0) return false;
        value = (sign == "-" ? -1 : 1) * n / d;
        return true;
    }

    private static bool TryParseDecimal(string s, out double value)
    {
        value = 0;
        if (s.Contains(','))
        {
            if (!ThousandsRegex().IsMatch(s)) return false;
            s = s.Replace(",", "", StringComparison.Ordinal);
        }
        if (!DecimalRegex().IsMatch(s)) return false;
        return double.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint,
            CultureInfo.InvariantCulture, out value);
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhitespaceRegex();

    [GeneratedRegex(@"^(?<sign>[+-]?)\\[dt]?frac\{(?<num>[^{}]+)\}\{(?<den>[^{}]+)\}$")]
    private static partial Regex LatexFractionRegex();

    [GeneratedRegex(@"^(?<sign>[+-]?)(?<num>[0-9.,]+)/(?<den>[0-9.,]+)$")]
    private static partial Regex SlashFractionRegex();

    [GeneratedRegex(@"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")]
    private static partial Regex ThousandsRegex();

    [GeneratedRegex(@"^[+-]?(\d+\.?\d*|\.\d+)$")]
    private static partial Regex DecimalRegex();
}
