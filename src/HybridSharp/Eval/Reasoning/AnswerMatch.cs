namespace HybridSharp.Eval.Reasoning;

/// <summary>Outcome of comparing a predicted answer with a reference (<see cref="AnswerNormalizer.Compare"/>).</summary>
public enum AnswerMatch
{
    /// <summary>Equal after normalisation, numerically, or element-wise.</summary>
    Equal,
    /// <summary>Shown different (numbers that differ, or strings with no symbolic content that differ).</summary>
    Different,
    /// <summary>
    /// Different as strings, but both are symbolic expressions that only a computer-algebra check could settle
    /// (HybridSharp has none); counted as wrong and reported separately.
    /// </summary>
    NeedsSymbolic,
}
