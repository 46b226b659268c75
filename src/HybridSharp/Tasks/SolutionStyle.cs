namespace HybridSharp.Tasks;

/// <summary>How a worked solution is written.</summary>
public enum SolutionStyle
{
    /// <summary>One equation per step, then the boxed answer.</summary>
    Concise,
    /// <summary>A long chain of thought: restating, working in words, double-checking, second-guessing, recomputing.</summary>
    Verbose,
}
