using System.Text.RegularExpressions;
using HybridSharp.Eval.Reasoning;

namespace HybridSharp.Distill;

/// <summary>
/// The <c>answer</c> validator's comparison: the last \boxed{} of the solution against the reference's
/// boxed answer (or the whole reference when it is short and unboxed), after normalisation; a letter match for
/// multiple-choice references; code is not checked here. Extraction and normalisation are the shared
/// <see cref="AnswerExtractor"/> / <see cref="AnswerNormalizer"/>; answers that only a symbolic
/// check could settle count as mismatches with their own detail.
/// </summary>
public static partial class AnswerCheck
{
    /// <summary>Content of the last \boxed{…}, or null.</summary>
    public static string? LastBoxed(string text) => AnswerExtractor.LastBoxed(text);

    /// <summary>The answer a reference stands for, or null when none can be derived.</summary>
    public static string? ReferenceAnswer(string reference)
    {
        var boxed = LastBoxed(reference);
        if (!string.IsNullOrWhiteSpace(boxed)) return boxed;
        var trimmed = reference.Trim();
        return trimmed.Length is > 0 and <= 64 && !trimmed.Contains('\n') ? trimmed : null;
    }

    /// <summary>Null when the solution's answer agrees with the reference, else the reason it does not.</summary>
    public static string? Mismatch(string solution, string reference, string domain)
    {
        if (domain.Equals("code", StringComparison.OrdinalIgnoreCase)) return null;
        var expected = ReferenceAnswer(reference);
        if (expected is null) return "reference has no answer to compare with";
        if (ChoiceRegex().IsMatch(expected))
        {
            var letter = ChosenLetter(solution);
            if (letter is null) return "no choice letter in the solution";
            return string.Equals(letter, expected.Trim().Trim('(', ')'), StringComparison.OrdinalIgnoreCase) ? null : $"chose {letter}, reference {expected}";
        }
        var predicted = LastBoxed(solution);
        if (predicted is null) return "no \\boxed{} answer in the solution";
        return AnswerNormalizer.Compare(predicted, expected) switch
        {
            AnswerMatch.Equal => null,
            AnswerMatch.NeedsSymbolic => $"answer {Shorten(predicted)} vs reference {Shorten(expected)} needs a symbolic check (unsupported)",
            _ => $"answer {Shorten(predicted)} differs from reference {Shorten(expected)}",
        };
    }

    public static bool Equivalent(string predicted, string reference) => AnswerNormalizer.Equivalent(predicted, reference);

    private static string? ChosenLetter(string solution)
    {
        var boxed = LastBoxed(solution);
        if (boxed is not null && ChoiceRegex().IsMatch(boxed.Trim())) return boxed.Trim().Trim('(', ')');
        var m = AnswerIsRegex().Matches(solution);
        if (m.Count > 0) return m[^1].Groups[1].Value;
        return AnswerExtractor.Extract(solution)?.Answer is { } a && ChoiceRegex().IsMatch(a.Trim()) ? a.Trim().Trim('(', ')') : null;
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..37] + "…";

    [GeneratedRegex(@"^\(?[A-Ea-e]\)?$")]
    private static partial Regex ChoiceRegex();

    [GeneratedRegex(@"answer(?: is)?:?\s*\(?([A-E])\)?\b", RegexOptions.IgnoreCase)]
    private static partial Regex AnswerIsRegex();
}
