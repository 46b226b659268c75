namespace HybridSharp.Tasks;

/// <summary>
/// Who the word problem is about and what they count. Pronouns are lower-case; capitalize at sentence starts.
/// </summary>
/// <param name="Name">The character's first name, e.g. "Mia".</param>
/// <param name="Subject">Subject pronoun, "she" or "he".</param>
/// <param name="Possessive">Possessive pronoun, "her" or "his".</param>
/// <param name="Reflexive">Reflexive pronoun, "herself" or "himself".</param>
/// <param name="ItemSingular">The counted item, singular ("apple").</param>
/// <param name="ItemPlural">The counted item, plural ("apples").</param>
public sealed record ArithmeticStory(
    string Name, string Subject, string Possessive, string Reflexive, string ItemSingular, string ItemPlural)
{
    /// <summary>"1 apple", "12 apples".</summary>
    public string Count(int value) => value == 1 ? $"1 {ItemSingular}" : $"{value} {ItemPlural}";
}

/// <summary>
/// How one step is phrased. <see cref="Present"/> is used in the question ("gives away 3"); <see cref="Base"/> and
/// <see cref="Contrast"/> (a plausible misreading, "get 3 more") let a verbose solution second-guess itself.
/// </summary>
/// <param name="Present">Third-person present verb phrase as it appears in the question.</param>
/// <param name="Base">The same phrase in base form ("give away 3").</param>
/// <param name="Contrast">A contrasting misreading in base form.</param>
/// <param name="Explanation">Optional sentence explaining how the wording maps to the operand, or null.</param>
public sealed record StepWording(string Present, string Base, string Contrast, string? Explanation = null);

/// <summary>One operation applied to the running total: <c>Left op Right = Result</c>.</summary>
/// <param name="Operation">The operation.</param>
/// <param name="Left">The running total before the step.</param>
/// <param name="Right">The operand.</param>
/// <param name="Result">The running total after the step.</param>
/// <param name="Wording">How the step is phrased in the question.</param>
public sealed record ArithmeticStep(ArithmeticOperation Operation, int Left, int Right, int Result, StepWording Wording)
{
    /// <summary>The step as an equation, e.g. "12 + 5 = 17".</summary>
    public string Equation => $"{Left} {Operation.Symbol()} {Right} = {Result}";
}

/// <summary>
/// A generated multi-step arithmetic word problem. <see cref="Difficulty"/> equals the number of steps; every
/// intermediate value is an integer in [1, <see cref="ArithmeticGenerator.MaxValue"/>].
/// </summary>
/// <param name="Id">Stable identifier derived from the difficulty and seed.</param>
/// <param name="Seed">The per-problem seed; <see cref="ArithmeticGenerator.Create"/> rebuilds the problem from it.</param>
/// <param name="Difficulty">Number of operations.</param>
/// <param name="Question">The word problem text.</param>
/// <param name="Story">Character and item the problem is about.</param>
/// <param name="Start">The starting count.</param>
/// <param name="Steps">The operations in order.</param>
/// <param name="Answer">The exact final count.</param>
public sealed record ArithmeticProblem(
    string Id,
    ulong Seed,
    int Difficulty,
    string Question,
    ArithmeticStory Story,
    int Start,
    IReadOnlyList<ArithmeticStep> Steps,
    int Answer);
