namespace HybridSharp.Tasks;

/// <summary>
/// Plain-text prompt/completion layout for arithmetic problems: <c>"Question: ...\nAnswer: "</c> followed by the
/// solution. No special tokens are added; the caller wraps documents as its tokenizer requires.
/// </summary>
public static class ArithmeticFormat
{
    /// <summary>The prompt a model is given: <c>"Question: {question}\nAnswer: "</c>.</summary>
    public static string Prompt(ArithmeticProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return $"Question: {problem.Question}\nAnswer: ";
    }

    /// <summary>The completion a model is trained to produce (the solution in <paramref name="style"/>).</summary>
    public static string Completion(ArithmeticProblem problem, SolutionStyle style, int? seed = null) =>
        ArithmeticSolutionWriter.Write(problem, style, seed);

    /// <summary>A full training document: <see cref="Prompt"/> followed by <see cref="Completion"/>.</summary>
    public static string TrainingDocument(ArithmeticProblem problem, SolutionStyle style, int? seed = null) =>
        Prompt(problem) + Completion(problem, style, seed);
}
