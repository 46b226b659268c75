using HybridSharp.Distill;
using System.Text;
using System.Text.RegularExpressions;

namespace HybridSharp.TeacherSim;

/// <summary>
/// An offline, deterministic stand-in for a reasoning teacher. Calls without a system prompt (two-call, first call)
/// get a long exploratory trace; calls with a system prompt (one-call DAP or two-call rewrite) get a concise DAP answer
/// whose headers follow the chosen difficulty and whose Solution ends in <c>\boxed{answer}</c>, plus (one-call) the long
/// trace as <c>reasoning_content</c>. The answer is the last \boxed{} of the user turn (the reference, or the given
/// long trace's) or, failing that, <see cref="Solve"/>. Replace <see cref="ChooseDifficulty"/>, <see cref="Solve"/>
/// or <see cref="RewriteSteps"/> to adapt it (e.g. to rewrite the arithmetic generator's verbose traces).
/// </summary>
public sealed partial class DapTeacherResponder : ITeacherResponder
{
    /// <summary>Difficulty for a request: easy, medium or hard. Default: by how many numbers the problem holds (≤ 3 easy, ≤ 5 medium, else hard).</summary>
    public Func<TeacherRequest, string> ChooseDifficulty { get; init; } = DefaultDifficulty;

    /// <summary>Answer for a problem when the request carries none; default: null (answer "unknown").</summary>
    public Func<string, string?> Solve { get; init; } = _ => null;

    /// <summary>The solution's steps given the long trace (may be empty); default: its lines holding an equation, at most 8.</summary>
    public Func<string, IReadOnlyList<string>> RewriteSteps { get; init; } = DefaultSteps;

    /// <summary>Writes the DAP answer from (difficulty, steps, answer); default: <see cref="DapAnswer"/>.</summary>
    public Func<string, IReadOnlyList<string>, string, string> Compose { get; init; } = DapAnswer;

    /// <summary>First call of two-call mode: true puts the trace in <c>reasoning_content</c> (R1-style), false in <c>content</c>.</summary>
    public bool ReasoningModel { get; init; } = true;

    public ValueTask<TeacherReply> RespondAsync(TeacherRequest request, CancellationToken cancellationToken) => ValueTask.FromResult(Respond(request));

    public TeacherReply Respond(TeacherRequest request)
    {
        var user = request.User;
        var answer = AnswerCheck.LastBoxed(user) is { Length: > 0 } boxed ? boxed : Solve(user) ?? "unknown";
        if (request.System is null)
        {
            var trace = LongTrace(user, answer);
            return ReasoningModel ? new TeacherReply.Answer($"The answer is \\boxed{{{answer}}}.", trace) : new TeacherReply.Answer(trace);
        }
        var givenTrace = ExtractGivenTrace(user);
        var difficulty = ChooseDifficulty(request);
        var content = Compose(difficulty, RewriteSteps(givenTrace ?? LongTrace(user, answer)), answer);
        return new TeacherReply.Answer(content, givenTrace is null ? LongTrace(user, answer) : "");
    }

    /// <summary>A concise DAP answer at <paramref name="difficulty"/>.</summary>
    public static string DapAnswer(string difficulty, IReadOnlyList<string> steps, string answer)
    {
        var sb = new StringBuilder();
        sb.Append("**Analysis:**\nIdentify the quantities and what is asked.\n\n");
        switch (difficulty)
        {
            case DifficultyLabeler.Easy:
                sb.Append("**Approach:**\nApply the operations in order.\n\n");
                break;
            case DifficultyLabeler.Medium:
                sb.Append("**Initial Approach:**\nTrack the running total step by step.\n\n");
                sb.Append("**Reflection:**\nEach step depends on the previous total, so the order matters.\n\n");
                sb.Append("**Improvement:**\nWrite every intermediate total explicitly.\n\n");
                break;
            default:
                sb.Append("**Problem Decomposition:**\nSplit the story into its separate operations.\n\n");
                sb.Append("**Sub-problem Processing:**\nCompute each operation on the running total and check it.\n\n");
                sb.Append("**Integration:**\nChain the intermediate totals.\n\n");
                sb.Append("**Overall Reflection:**\nAll totals stay whole numbers, as required.\n\n");
                sb.Append("**Final Optimization:**\nKeep only the equations.\n\n");
                break;
        }
        sb.Append("**Summary:**\nThe final total answers the question.\n\n");
        sb.Append("**Solution:**\n");
        foreach (var step in steps) sb.Append(step).Append('\n');
        sb.Append("\\boxed{").Append(answer).Append('}');
        return sb.ToString();
    }

    /// <summary>A deliberately long, meandering trace ending in the boxed answer.</summary>
    public static string LongTrace(string problem, string answer)
    {
        var sb = new StringBuilder();
        sb.Append("Okay, let me read the problem carefully. ").Append(FirstLine(problem)).Append('\n');
        for (int i = 1; i <= 6; i++)
        {
            sb.Append("Hmm, let me think about step ").Append(i).Append(" again. Wait, maybe I misread something, so let me re-check the numbers ")
              .Append("and make sure every operation is applied to the right total before going on.\n");
        }
        sb.Append("Let me verify once more from the start... yes, that is consistent.\n");
        sb.Append("So the final answer is \\boxed{").Append(answer).Append("}.");
        return sb.ToString();
    }

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";

    private static string? ExtractGivenTrace(string user)
    {
        const string marker = "Long reasoning to rewrite:";
        int i = user.IndexOf(marker, StringComparison.Ordinal);
        if (i < 0) return null;
        var rest = user[(i + marker.Length)..];
        int end = rest.IndexOf("The correct answer to this problem is given below.", StringComparison.Ordinal);
        return (end >= 0 ? rest[..end] : rest).Trim();
    }

    public static string DefaultDifficulty(TeacherRequest request)
    {
        var user = request.User;
        int cut = user.IndexOf("The correct answer", StringComparison.Ordinal);
        var problem = cut >= 0 ? user[..cut] : user;
        int rewriteCut = problem.IndexOf("Long reasoning to rewrite:", StringComparison.Ordinal);
        if (rewriteCut >= 0) problem = problem[..rewriteCut];
        int numbers = NumberRegex().Matches(problem).Count;
        return numbers <= 3 ? DifficultyLabeler.Easy : numbers <= 5 ? DifficultyLabeler.Medium : DifficultyLabeler.Hard;
    }

    public static IReadOnlyList<string> DefaultSteps(string trace) =>
        trace.Split('\n').Select(l => l.Trim()).Where(l => EquationRegex().IsMatch(l) && !l.Contains("\\boxed", StringComparison.Ordinal))
            .Distinct().Take(8).ToList();

    [GeneratedRegex(@"\d+(\.\d+)?")]
    private static partial Regex NumberRegex();

    [GeneratedRegex(@"\d\s*[-+*/×÷x]\s*\d+\s*=\s*\d")]
    private static partial Regex EquationRegex();
}
