using HybridSharp.Distill;
using System.Globalization;
using System.Text.RegularExpressions;

namespace HybridSharp.TeacherSim;

/// <summary>
/// Wraps a responder and misbehaves when the user turn carries a marker <c>[[teacher:KIND]]</c> or
/// <c>[[teacher:KIND*N]]</c> (only the first N attempts of that exact request; the inner answer after). Transient
/// kinds: <c>429</c> (with Retry-After), <c>500</c>, <c>hang</c> (answers after <see cref="HangFor"/>), <c>truncate</c>
/// (stream cut short), <c>malformed</c> (invalid JSON). Content kinds: <c>wrong</c> (boxed answer changed),
/// <c>nosections</c> (no framework headers), <c>nosolution</c> (no **Solution:** line), <c>length</c>
/// (finish_reason "length"), <c>empty</c> (empty content), <c>400</c> (bad request, not retried).
/// </summary>
public sealed partial class FaultInjectingResponder(ITeacherResponder inner) : ITeacherResponder
{
    public TimeSpan HangFor { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromMilliseconds(50);

    public async ValueTask<TeacherReply> RespondAsync(TeacherRequest request, CancellationToken cancellationToken)
    {
        var reply = await inner.RespondAsync(request, cancellationToken).ConfigureAwait(false);
        foreach (Match m in MarkerRegex().Matches(request.User))
        {
            var kind = m.Groups["kind"].Value.ToLowerInvariant();
            int times = m.Groups["n"].Success ? int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) : int.MaxValue;
            if (request.Attempt > times) continue;
            var answer = reply as TeacherReply.Answer;
            reply = kind switch
            {
                "429" => new TeacherReply.Error(429, "rate limit reached, slow down", RetryAfter),
                "500" => new TeacherReply.Error(500, "internal server error"),
                "400" => new TeacherReply.Error(400, "bad request"),
                "hang" => new TeacherReply.Hang(HangFor, reply),
                "truncate" => new TeacherReply.Truncated(answer?.Content[..Math.Min(20, answer.Content.Length)] ?? ""),
                "malformed" => new TeacherReply.MalformedJson(),
                "wrong" when answer is not null => answer with { Content = BoxedRegex().Replace(answer.Content, "\\boxed{-99999}") },
                "nosections" when answer is not null => answer with { Content = HeaderRegex().Replace(answer.Content, "") },
                "nosolution" when answer is not null => answer with { Content = answer.Content.Replace("**Solution:**", "Result:", StringComparison.Ordinal) },
                "length" when answer is not null => answer with { FinishReason = "length" },
                "empty" when answer is not null => answer with { Content = "" },
                _ => reply,
            };
        }
        return reply;
    }

    [GeneratedRegex(@"\[\[teacher:(?<kind>[a-z0-9]+)(\*(?<n>\d+))?\]\]", RegexOptions.IgnoreCase)]
    private static partial Regex MarkerRegex();

    [GeneratedRegex(@"\\boxed\{[^{}]*\}")]
    private static partial Regex BoxedRegex();

    [GeneratedRegex(@"\*\*(Analysis|Approach|Initial Approach|Reflection|Improvement|Problem Decomposition|Sub-problem Processing|Integration|Overall Reflection|Final Optimization|Summary):\*\*\n?")]
    private static partial Regex HeaderRegex();
}
