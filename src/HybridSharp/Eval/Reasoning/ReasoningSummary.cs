namespace HybridSharp.Eval.Reasoning;

/// <summary>
/// Metrics over a group of problems (all, or one difficulty). With n samples per problem and c of them correct:
/// <list type="bullet">
/// <item><see cref="Accuracy"/>: fraction of problems whose first sample is correct (greedy accuracy with one sample);</item>
/// <item><see cref="Pass1"/>: mean over problems of c / n;</item>
/// <item><see cref="PassAtK"/>: mean over problems of the unbiased estimator 1 − C(n−c, k) / C(n, k), for k ≤ the smallest n;</item>
/// <item>token statistics over all samples: mean, median, mean of correct / incorrect samples;</item>
/// <item><see cref="TokensPerCorrect"/>: all generated tokens / number of correct samples (null when none is correct);</item>
/// <item><see cref="CapFraction"/>: samples that hit the max-token cap; <see cref="NoAnswerFraction"/>: samples without an extractable answer;</item>
/// <item><see cref="NeedsSymbolic"/>: samples counted wrong that only a computer-algebra check could settle.</item>
/// </list>
/// </summary>
public sealed record ReasoningSummary(
    string Group,
    int Problems,
    int Samples,
    int CorrectSamples,
    double Accuracy,
    double Pass1,
    IReadOnlyDictionary<int, double> PassAtK,
    double MeanTokens,
    double MedianTokens,
    double? MeanTokensCorrect,
    double? MeanTokensIncorrect,
    double? TokensPerCorrect,
    double CapFraction,
    double NoAnswerFraction,
    int NeedsSymbolic);
