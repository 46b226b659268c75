namespace HybridSharp.Eval.Reasoning;

/// <summary>
/// One generation for a problem: its text, how many tokens it took, whether it ran into the token cap, the extracted
/// answer (null when none was found) and whether that answer matches the reference.
/// </summary>
public sealed record ReasoningSample(string Text, int GeneratedTokens, bool HitCap, string? Extracted, string? Method, AnswerMatch Match)
{
    public bool Correct => Match == AnswerMatch.Equal;
}

/// <summary>All samples drawn for one problem, and the exact prompt text they were generated from (null when not recorded).</summary>
public sealed record ProblemResult(ReasoningProblem Problem, IReadOnlyList<ReasoningSample> Samples, string? Prompt = null)
{
    public int SampleCount => Samples.Count;
    public int CorrectCount => Samples.Count(s => s.Correct);
}
