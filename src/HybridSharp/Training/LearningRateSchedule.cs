namespace HybridSharp.Training;

/// <summary>
/// Learning-rate schedules as pure functions of the optimizer step (0-based):
/// <list type="bullet">
/// <item><c>cosine</c>: linear warmup to the peak, then cosine decay to min_lr at the last step.</item>
/// <item><c>wsd</c> (warmup–stable–decay, as in MiniCPM): warmup, constant peak, then a linear decay to min_lr over
/// the final <c>decayFraction</c> of steps.</item>
/// <item><c>constant</c>: warmup, then the peak.</item>
/// </list>
/// </summary>
public sealed record LearningRateSchedule(string Kind, double PeakLr, double MinLr, int WarmupSteps, int TotalSteps, double DecayFraction = 0.2)
{
    public static readonly string[] Kinds = ["cosine", "wsd", "constant"];

    public double At(int step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return PeakLr * (step + 1) / WarmupSteps;
        int total = Math.Max(TotalSteps, 1);
        switch (Kind)
        {
            case "constant":
                return PeakLr;
            case "wsd":
            {
                int decaySteps = Math.Max(1, (int)Math.Round(total * DecayFraction));
                int decayStart = total - decaySteps;
                if (step < decayStart) return PeakLr;
                double frac = Math.Min(1.0, (step - decayStart + 1) / (double)decaySteps);
                return PeakLr + (MinLr - PeakLr) * frac;
            }
            case "cosine":
            {
                int span = Math.Max(1, total - WarmupSteps - 1);
                double progress = Math.Clamp((step - WarmupSteps) / (double)span, 0, 1);
                return MinLr + 0.5 * (PeakLr - MinLr) * (1 + Math.Cos(Math.PI * progress));
            }
            default:
                throw new ArgumentException($"unknown schedule '{Kind}' (known: {string.Join(", ", Kinds)})");
        }
    }
}
