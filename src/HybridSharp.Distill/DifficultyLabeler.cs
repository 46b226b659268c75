using System.Text.RegularExpressions;

namespace HybridSharp.Distill;

/// <summary>
/// Recovers the difficulty the teacher chose from the Thought headers and checks the header sequence
/// against the three difficulty frameworks of the DAP prompt (easy, medium, hard).
/// </summary>
public static partial class DifficultyLabeler
{
    public const string Easy = "easy", Medium = "medium", Hard = "hard", Unknown = "unknown";
    public static readonly IReadOnlyList<string> Levels = [Easy, Medium, Hard, Unknown];

    public static readonly IReadOnlyList<string> EasyHeaders = ["Analysis", "Approach", "Summary"];
    public static readonly IReadOnlyList<string> MediumHeaders = ["Analysis", "Initial Approach", "Reflection", "Improvement", "Summary"];
    public static readonly IReadOnlyList<string> HardHeaders =
        ["Analysis", "Problem Decomposition", "Sub-problem Processing", "Integration", "Overall Reflection", "Final Optimization", "Summary"];

    private static readonly HashSet<string> Known = [.. EasyHeaders, .. MediumHeaders, .. HardHeaders];

    /// <summary>Bold headers (<c>**Name:**</c>) in order, only the names the frameworks use.</summary>
    public static List<string> Headers(string thought) =>
        HeaderRegex().Matches(thought).Select(m => m.Groups[1].Value.Trim()).Where(Known.Contains).ToList();

    /// <summary>Decomposition/sub-problem headers → hard; initial approach + reflection + improvement → medium; approach only → easy.</summary>
    public static string Label(string thought)
    {
        var h = Headers(thought);
        if (h.Contains("Problem Decomposition") || h.Contains("Sub-problem Processing")) return Hard;
        if (h.Contains("Initial Approach") && h.Contains("Reflection") && h.Contains("Improvement")) return Medium;
        if (h.Contains("Approach")) return Easy;
        return Unknown;
    }

    /// <summary>
    /// Null when the thought's framework headers follow its level's sequence in order (sub-problem headers may repeat);
    /// otherwise why not.
    /// </summary>
    public static string? FrameworkMismatch(string thought, string label)
    {
        var expected = label switch { Easy => EasyHeaders, Medium => MediumHeaders, Hard => HardHeaders, _ => null };
        if (expected is null) return "headers match no framework";
        var seen = Headers(thought);
        // collapse repeats inside sub-problem processing (Initial Approach / Reflection / Improvement loops)
        var collapsed = new List<string>();
        foreach (var h in seen)
        {
            if (label == Hard && h is "Initial Approach" or "Reflection" or "Improvement" or "Approach") continue;
            if (collapsed.Count == 0 || collapsed[^1] != h) collapsed.Add(h);
        }
        return collapsed.SequenceEqual(expected) ? null : $"{label} headers out of order: {string.Join(" → ", collapsed)}";
    }

    [GeneratedRegex(@"\*\*([A-Za-z][A-Za-z \-]*?):\*\*")]
    private static partial Regex HeaderRegex();
}
