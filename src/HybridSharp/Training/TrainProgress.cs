namespace HybridSharp.Training;

/// <summary>Progress reported after each optimizer step (for progress bars).</summary>
public sealed record TrainProgress(int Step, int TotalSteps, double Loss, double LearningRate, double TokensPerSecond, TimeSpan Eta, double? EvalLoss);

/// <summary>How a run ended.</summary>
public sealed record TrainResult(int FinalStep, bool Completed, bool Interrupted, double LastLoss, double? LastEvalLoss, long Tokens, IReadOnlyList<double> Losses);
