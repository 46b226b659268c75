namespace HybridSharp.Distill;

/// <summary>One input problem.</summary>
/// <param name="Id">Stable identifier: the id field when mapped, else a hash of the problem text.</param>
/// <param name="Index">Position in the input (0-based); exports keep this order.</param>
/// <param name="Problem">The problem statement as sent to the teacher.</param>
/// <param name="Reference">Reference answer or solution (may be empty).</param>
/// <param name="LongCot">An existing long chain of thought, or null.</param>
/// <param name="Domain">Domain label ("math", "code", "science", "puzzle", …).</param>
public sealed record ProblemRecord(string Id, long Index, string Problem, string Reference, string? LongCot, string Domain);
