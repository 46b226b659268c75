using System.Text.Json;
using System.Text.Json.Serialization;
using HybridSharp.Data.Corpus;

namespace HybridSharp.Training;

/// <summary>Everything besides weights and optimizer moments that a resumed run needs (trainer_state.json).</summary>
public sealed record TrainerState
{
    [JsonPropertyName("step")] public int Step { get; init; }
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
    [JsonPropertyName("sampler")] public required SamplerState Sampler { get; init; }
    [JsonPropertyName("torch_rng_state")] public string? TorchRngState { get; init; }
    [JsonPropertyName("total_steps")] public int TotalSteps { get; init; }
    [JsonPropertyName("schedule")] public string Schedule { get; init; } = "cosine";
    [JsonPropertyName("seed")] public long Seed { get; init; }
    [JsonPropertyName("last_loss")] public double? LastLoss { get; init; }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };
    public string ToJson() => JsonSerializer.Serialize(this, Options);
    public static TrainerState FromJson(string json, string source) =>
        JsonSerializer.Deserialize<TrainerState>(json, Options) ?? throw new InvalidDataException($"{source}: empty trainer state");
}
