namespace HybridSharp.Tasks;

/// <summary>How questions are worded.</summary>
public enum QuestionPhrasing
{
    /// <summary>Several wordings per kind of step, connectors and openings (the reasoning datasets).</summary>
    Varied,

    /// <summary>
    /// Two wordings for adding and for taking away, one word per factor where one exists ("doubles them", "keeps a
    /// third of them"), "then" as the only connector, one opening and one closing question.
    /// </summary>
    Plain,
}

/// <summary>
/// What an <see cref="ArithmeticGenerator"/> draws from: the starting count, how much one step adds or takes away, the
/// factors of multiplication and division, the largest value any intermediate count may reach, and the wording.
/// </summary>
/// <param name="MinStart">Smallest starting count.</param>
/// <param name="MaxStart">Largest starting count.</param>
/// <param name="MaxAddend">Largest amount one step adds or subtracts (one more where the drawn amount would exactly undo the previous step).</param>
/// <param name="MaxMultiplicand">Multiplication is only offered while the count is at most this.</param>
/// <param name="Multipliers">Factors a step multiplies by (repeats weight the draw).</param>
/// <param name="Divisors">Exact divisors a step may divide by.</param>
/// <param name="MaxValue">Upper bound on every intermediate value.</param>
/// <param name="Phrasing">How questions are worded.</param>
public sealed record ArithmeticSettings(int MinStart, int MaxStart, int MaxAddend, int MaxMultiplicand,
    IReadOnlyList<int> Multipliers, IReadOnlyList<int> Divisors, int MaxValue, QuestionPhrasing Phrasing)
{
    /// <summary>Counts up to 9999: starts 2–50, steps of up to 40, factors 2–5, divisors 2–6, varied wording (the reasoning datasets).</summary>
    public static ArithmeticSettings Standard { get; } = new(2, 50, 40, 250, [2, 2, 3, 3, 4, 5], [2, 3, 4, 5, 6], 9999, QuestionPhrasing.Varied);

    /// <summary>
    /// The quickstart's problems: starts 2–15, steps of up to 9, doubling or tripling while the count is at most 16,
    /// halves, thirds and quarters, every count below 50, plain wording — what a model of a million parameters learns
    /// in minutes on a CPU.
    /// </summary>
    public static ArithmeticSettings Simple { get; } = new(2, 15, 9, 16, [2, 2, 3], [2, 3, 4], 49, QuestionPhrasing.Plain);

    /// <summary>Throws unless every bound is usable.</summary>
    public void Validate()
    {
        if (MinStart < 2 || MaxStart < MinStart || MaxStart > MaxValue)
            throw new ArgumentException($"arithmetic settings: need 2 ≤ min start ≤ max start ≤ max value (got {MinStart}, {MaxStart}, {MaxValue})");
        if (MaxAddend < 1) throw new ArgumentException("arithmetic settings: the largest addend must be at least 1");
        if (Multipliers.Count == 0 || Multipliers.Any(m => m < 2) || Divisors.Count == 0 || Divisors.Any(d => d < 2))
            throw new ArgumentException("arithmetic settings: need at least one multiplier and one divisor, each at least 2");
        if ((long)MaxMultiplicand * Multipliers.Max() > MaxValue)
            throw new ArgumentException($"arithmetic settings: {MaxMultiplicand} × {Multipliers.Max()} exceeds the max value {MaxValue}");
        if (!Enum.IsDefined(Phrasing)) throw new ArgumentException($"arithmetic settings: unknown phrasing {Phrasing}");
    }
}
