using System.Text.Json;

namespace HybridSharp.Data.Corpus;

/// <summary>
/// Resumable position of a <see cref="PackedBatchSampler"/>: the shuffle seed, the epoch, and how many windows of that
/// epoch have been handed out. Save it with a checkpoint; <see cref="PackedBatchSampler.Restore"/> continues exactly where
/// an uninterrupted sampler would be.
/// </summary>
/// <param name="Seed">Shuffle seed.</param>
/// <param name="Epoch">Zero-based epoch.</param>
/// <param name="Index">Windows already consumed in <paramref name="Epoch"/>.</param>
public sealed record SamplerState(long Seed, long Epoch, long Index)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>Serialises to compact camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses JSON written by <see cref="ToJson"/>.</summary>
    public static SamplerState FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<SamplerState>(json, JsonOptions)
                ?? throw new InvalidDataException("Sampler state JSON is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Sampler state JSON is invalid: {ex.Message}", ex);
        }
    }
}
