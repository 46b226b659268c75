using System.Diagnostics;

namespace HybridSharp.Server;

/// <summary>
/// Times one request's events for /metrics: time to the first generated text or token, and for each finished choice
/// its tokens and decode speed (tokens after the first ÷ time after the first).
/// </summary>
internal sealed class RequestTimer(ServerMetrics metrics, long arrival)
{
    private long _first;

    public void Observe(GenerationEvent e)
    {
        long now = Stopwatch.GetTimestamp();
        if (_first == 0 && e is TextEvent or LogprobEvent { Prompt: false } or FinishEvent)
        {
            _first = now;
            metrics.TimeToFirstToken.Observe(Stopwatch.GetElapsedTime(arrival, now).TotalSeconds);
        }
        if (e is not FinishEvent f) return;
        if (f.Index == 0) metrics.PromptTokens.Inc(f.PromptTokens);
        metrics.CompletionTokens.Inc(f.CompletionTokens);
        double seconds = Stopwatch.GetElapsedTime(_first, now).TotalSeconds;
        if (f.CompletionTokens > 1 && seconds > 0) metrics.DecodeTokensPerSecond.Observe((f.CompletionTokens - 1) / seconds);
    }
}
