using HybridSharp.Distill;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using HybridSharp.TeacherSim;

namespace HybridSharp.Experiments.LiteCot;

/// <summary>
/// Rewrite rules for the offline teacher of <c>hybrid litecot-mini</c>: a <see cref="DapTeacherResponder"/> that turns the
/// arithmetic generator's verbose traces into compact, difficulty-aware DAP answers. It is a deterministic text
/// transformation of the given long trace (its step equations, in order), not a language model.
/// </summary>
public static partial class ArithmeticDapRewriter
{
    /// <summary>The responder: difficulty from the number of step equations in the given trace, one-line DAP headers.</summary>
    public static DapTeacherResponder Create() => new()
    {
        RewriteSteps = Steps,
        ChooseDifficulty = request => Difficulty(Steps(GivenTrace(request.User)).Count),
        Compose = Compose,
    };

    /// <summary>
    /// The step equations of a verbose trace, in order: starting from the first number of the trace (the start value),
    /// on each line the first equation that continues the running total. Re-checks, explanations and recaps are dropped.
    /// </summary>
    public static IReadOnlyList<string> Steps(string trace)
    {
        var steps = new List<string>();
        var first = NumberRegex().Match(trace);
        if (!first.Success || !long.TryParse(first.Value, CultureInfo.InvariantCulture, out long total)) return steps;
        foreach (var line in trace.Split('\n'))
        {
            if (line.Contains("\\boxed", StringComparison.Ordinal)) continue;
            foreach (Match m in EquationRegex().Matches(line))
            {
                if (!long.TryParse(m.Groups[1].Value, CultureInfo.InvariantCulture, out long left) || left != total) continue;
                if (!long.TryParse(m.Groups[2].Value, CultureInfo.InvariantCulture, out total)) break;
                steps.Add(m.Value);
                break;
            }
        }
        return steps;
    }

    /// <summary>≤ 2 steps easy, ≤ 4 medium, more hard.</summary>
    public static string Difficulty(int steps) => steps <= 2 ? DifficultyLabeler.Easy : steps <= 4 ? DifficultyLabeler.Medium : DifficultyLabeler.Hard;

    /// <summary>
    /// A DAP answer whose headers follow the difficulty's framework, one short line each, then the
    /// equations and \boxed{}: the framework grows with difficulty, the wording stays minimal.
    /// </summary>
    public static string Compose(string difficulty, IReadOnlyList<string> steps, string answer)
    {
        var sb = new StringBuilder();
        sb.Append("**Analysis:** ").Append(steps.Count == 1 ? "1 step" : $"{steps.Count} steps").Append(".\n");
        switch (difficulty)
        {
            case DifficultyLabeler.Easy:
                sb.Append("**Approach:** in order.\n");
                break;
            case DifficultyLabeler.Medium:
                sb.Append("**Initial Approach:** in order.\n**Reflection:** each uses the last total.\n**Improvement:** write each total.\n");
                break;
            default:
                sb.Append("**Problem Decomposition:** one per step.\n**Sub-problem Processing:** compute each.\n")
                  .Append("**Integration:** chain them.\n**Overall Reflection:** whole numbers.\n**Final Optimization:** equations only.\n");
                break;
        }
        sb.Append("**Summary:** last total.\n**Solution:**\n");
        foreach (var step in steps) sb.Append(step).Append('\n');
        return sb.Append("\\boxed{").Append(answer).Append('}').ToString();
    }

    private static string GivenTrace(string user)
    {
        const string marker = "Long reasoning to rewrite:";
        int i = user.IndexOf(marker, StringComparison.Ordinal);
        if (i < 0) return user;
        var rest = user[(i + marker.Length)..];
        int end = rest.IndexOf("The correct answer to this problem is given below.", StringComparison.Ordinal);
        return end >= 0 ? rest[..end] : rest;
    }

    [GeneratedRegex(@"(\d+) [^\s\d] \d+ = (-?\d+)")]
    private static partial Regex EquationRegex();

    [GeneratedRegex(@"\d+")]
    private static partial Regex NumberRegex();
}
