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
    [JsonPropertyName("moe_load_balance")] public double? MoeLoadBalance { get; init; }
    [JsonPropertyName("eval_loss")] public double? EvalLoss { get; init; }
    [JsonPropertyName("eval_ppl")] public double? EvalPerplexity { get; init; }
    [JsonPropertyName("time")] public DateTimeOffset Time { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// Appends metrics as JSON lines; on resume, drops lines written after the checkpoint being resumed. With a TensorBoard
/// directory, every metric is also written as a scalar there (TorchSharp's <c>SummaryWriter</c>: <c>train/loss</c>,
/// <c>train/lr</c>, <c>train/grad_norm</c>, <c>train/tokens_per_s</c>, <c>train/moe_load_balance</c> for MoE models, <c>eval/loss</c>, <c>eval/perplexity</c>);
/// <c>tensorboard --logdir runs</c> shows them. Event files are append-only: after a resume, TensorBoard shows the
/// steps between the checkpoint and the interruption twice (the later values are the ones that count).
/// </summary>
public sealed class MetricsLog(string path, string? tensorBoardDirectory = null) : IDisposable
{
    /// <summary>The TensorBoard folder a run writes beside its metrics.jsonl.</summary>
    public const string TensorBoardDirName = "tensorboard";

    private static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private TorchSharp.Modules.SummaryWriter? _board;
    public string Path { get; } = path;

    public void Append(TrainingMetric m)
    {
        File.AppendAllText(Path, JsonSerializer.Serialize(m, Options) + "\n");
        if (tensorBoardDirectory is null) return;
        _board ??= TorchSharp.torch.utils.tensorboard.SummaryWriter(tensorBoardDirectory, createRunName: false);
        void Scalar(string tag, double? value)
        {
            if (value is { } v && double.IsFinite(v)) _board.add_scalar(tag, (float)v, m.Step);
        }
        Scalar("train/loss", m.Loss);
        Scalar("train/lr", m.LearningRate);
        Scalar("train/grad_norm", m.GradNorm);
        Scalar("train/tokens_per_s", m.TokensPerSecond);
        Scalar("train/moe_load_balance", m.MoeLoadBalance);
        Scalar("eval/loss", m.EvalLoss);
        Scalar("eval/perplexity", m.EvalPerplexity);
    }

    public void Dispose() => _board = null; // SummaryWriter writes each event through; nothing to flush

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
