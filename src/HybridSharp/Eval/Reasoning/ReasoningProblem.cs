namespace HybridSharp.Eval.Reasoning;

/// <summary>One evaluation item: the problem text, the reference answer, and an optional difficulty label.</summary>
public sealed record ReasoningProblem(string Id, string Problem, string Answer, string? Difficulty = null);

/// <summary>Which fields of a problem file hold what. Only <see cref="Problem"/> and <see cref="Answer"/> must be present.</summary>
public sealed record ProblemFields
{
    public string Problem { get; init; } = "problem";
    public string Answer { get; init; } = "answer";
    public string Difficulty { get; init; } = "difficulty";
    public string Id { get; init; } = "id";
}
