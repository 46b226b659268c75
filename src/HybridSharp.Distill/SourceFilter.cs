using System.Text.RegularExpressions;

namespace HybridSharp.Distill;

/// <summary>Which source filters (math row) are on.</summary>
public sealed record SourceFilterOptions
{
    /// <summary>Drop problems mentioning figures, diagrams, image files or containing "answer:".</summary>
    public bool Figures { get; init; }
    /// <summary>Drop multi-part questions ("a) … b)").</summary>
    public bool MultiPart { get; init; }
    /// <summary>Require a reference of at most <see cref="MaxReferenceChars"/> characters with a non-empty \boxed{…}.</summary>
    public bool RequireBoxed { get; init; }
    public int MaxReferenceChars { get; init; } = 2048;

    public bool Any => Figures || MultiPart || RequireBoxed;
}

/// <summary>The source filters; <see cref="Check"/> returns the reason a problem is dropped, or null to keep it.</summary>
public static partial class SourceFilter
{
    public static string? Check(ProblemRecord p, SourceFilterOptions o)
    {
        if (o.Figures && FigureRegex().IsMatch(p.Problem)) return "mentions a figure or image";
        if (o.MultiPart && MultiPartRegex().IsMatch(p.Problem)) return "multi-part question";
        if (o.RequireBoxed)
        {
            if (p.Reference.Length == 0) return "empty reference";
            if (p.Reference.Length > o.MaxReferenceChars) return $"reference longer than {o.MaxReferenceChars} characters";
            var boxed = AnswerCheck.LastBoxed(p.Reference);
            if (boxed is null) return "reference has no \\boxed{} answer";
            if (string.IsNullOrWhiteSpace(boxed)) return "reference has an empty \\boxed{} (proof)";
        }
        return null;
    }

    [GeneratedRegex(@"figure|diagram|jpeg|\.?png\b|\.?jpg\b|\.?svg\b|answer:", RegexOptions.IgnoreCase)]
    private static partial Regex FigureRegex();

    [GeneratedRegex(@"(^|[\s(])a\)[\s\S]*?(^|[\s(])b\)", RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex MultiPartRegex();
}
