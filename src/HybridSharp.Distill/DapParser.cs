using System.Text.RegularExpressions;

namespace HybridSharp.Distill;

/// <summary>A teacher answer split into its Thought and Solution parts.</summary>
/// <param name="Thought">Text before the solution (tag-free).</param>
/// <param name="Solution">The solution block, starting with <c>**Solution:**</c>.</param>
/// <param name="FormatError">Null when the answer has exactly one well-formed solution part; otherwise why not.</param>
/// <param name="Tagged">True when the answer used the begin/end-of-thought/solution tags.</param>
public sealed record DapAnswer(string Thought, string Solution, string? FormatError, bool Tagged);

/// <summary>Parses tagged (<c>&lt;|begin_of_thought|&gt;…</c>) and untagged (<c>**Solution:**</c> line) DAP answers.</summary>
public static partial class DapParser
{
    public const string BeginThought = "<|begin_of_thought|>", EndThought = "<|end_of_thought|>";
    public const string BeginSolution = "<|begin_of_solution|>", EndSolution = "<|end_of_solution|>";
    public const string SolutionHeader = "**Solution:**";

    public static DapAnswer Parse(string content)
    {
        content ??= "";
        if (content.Contains(BeginThought, StringComparison.Ordinal) || content.Contains(BeginSolution, StringComparison.Ordinal))
            return ParseTagged(content);
        var matches = SolutionLineRegex().Matches(content);
        if (matches.Count == 0) return new DapAnswer(content.Trim(), "", "no **Solution:** section", false);
        var first = matches[0];
        var answer = new DapAnswer(content[..first.Index].Trim(), content[first.Index..].Trim(), null, false);
        return matches.Count == 1 ? answer : answer with { FormatError = $"{matches.Count} **Solution:** sections" };
    }

    private static DapAnswer ParseTagged(string content)
    {
        int Count(string tag) => Regex.Count(content, Regex.Escape(tag));
        int bt = content.IndexOf(BeginThought, StringComparison.Ordinal), et = content.IndexOf(EndThought, StringComparison.Ordinal);
        int bs = content.IndexOf(BeginSolution, StringComparison.Ordinal), es = content.IndexOf(EndSolution, StringComparison.Ordinal);
        string? error = null;
        if (Count(BeginThought) != 1 || Count(EndThought) != 1 || Count(BeginSolution) != 1 || Count(EndSolution) != 1)
            error = "tagged answer needs exactly one thought pair and one solution pair";
        else if (!(bt < et && et <= bs && bs < es))
            error = "thought and solution tags out of order";
        string thought = bt >= 0 && et > bt ? content[(bt + BeginThought.Length)..et].Trim() : "";
        string solution = bs >= 0 && es > bs ? content[(bs + BeginSolution.Length)..es].Trim() : bs >= 0 ? content[(bs + BeginSolution.Length)..].Trim() : "";
        if (error is null && !solution.StartsWith(SolutionHeader, StringComparison.Ordinal) && solution.Length > 0)
            solution = solution.Trim();
        return new DapAnswer(thought, solution, error, true);
    }

    [GeneratedRegex(@"^[ \t>#]*\*\*Solution:?\*\*:?", RegexOptions.Multiline)]
    private static partial Regex SolutionLineRegex();
}
