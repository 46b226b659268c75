using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridSharp.Training;

/// <summary>One line of metrics.jsonl.</summary>
public sealed record TrainingMetric
{
    [JsonPropertyName("step")] public int Step { get; init; }
    [JsonPropertyName("loss")] public double? Loss { get; init; }
    [JsonPropertyName("lr")] public double? LearningRate { get; init; }
    [JsonPropertyName("grad_norm")] public double? GradNorm { get; init; }
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
    [JsonPropertyName("tokens_per_s")] public double? TokensPerSecond { get; init; }
    [JsonPropertyName("eval_loss")] public double? EvalLoss { get; init; }
    [JsonPropertyName("eval_ppl")] public double? EvalPerplexity { get; init; }
    [JsonPropertyName("time")] public DateTimeOffset Time { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>Appends metrics as JSON lines; on resume, drops lines written after the checkpoint being resumed.</summary>
public sealed class MetricsLog(string path)
{
    private static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    public string Path { get; } = path;

    public void Append(TrainingMetric m) => File.AppendAllText(Path, JsonSerializer.Serialize(m, Options) + "\n");

    public static IReadOnlyList<TrainingMetric> Read(string path)
    {
        if (!File.Exists(path)) return [];
        var list = new List<TrainingMetric>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { if (JsonSerializer.Deserialize<TrainingMetric>(line, Options) is { } m) list.Add(m); }
            catch (JsonException) { /* a torn last line from a crash is skipped */ }
        }
        return list;
    }

    /// <summary>Keeps only entries with step ≤ <paramref name="step"/> (atomic rewrite).</summary>
    public void TruncateAfter(int step)
    {
        var kept = Read(Path).Where(m => m.Step <= step).Select(m => JsonSerializer.Serialize(m, Options));
        IO.AtomicFile.WriteAllText(Path, string.Concat(kept.Select(l => l + "\n")));
    }
}
