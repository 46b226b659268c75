namespace HybridSharp.Eval.Reasoning;

/// <summary>A final answer found in a generation and the rule that found it (see <see cref="AnswerExtractor"/>).</summary>
public sealed record ExtractedAnswer(string Answer, string Method)
{
    public const string Minerva = "minerva", Boxed = "boxed", AnswerIs = "answer-is", LastNumber = "last-number";
}
