namespace HybridSharp.Eval.Reasoning;

/// <summary>One evaluation item: the problem text, the reference answer, and an optional difficulty label.</summary>
public sealed record ReasoningProblem(string Id, string Problem, string Answer, string? Difficulty = null);
