using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridSharp.Distill;

/// <summary>A rejection reason: code (see <see cref="RejectionCodes"/>) and a human-readable detail.</summary>
public sealed record Rejection(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("detail")] string Detail);

/// <summary>One teacher call of a row: which call, its cache key, finish reason and usage.</summary>
public sealed record CallRecord(
    [property: JsonPropertyName("call")] string Call,
    [property: JsonPropertyName("cache_key")] string CacheKey,
    [property: JsonPropertyName("prompt_sha256")] string PromptSha256,
    [property: JsonPropertyName("finish_reason")] string? FinishReason,
    [property: JsonPropertyName("usage")] TeacherUsage? Usage);

/// <summary>
/// The stored result for one problem (the "full" export schema). Deterministic: no timestamps or timings, so a resumed
/// run's output equals an uninterrupted run's.
/// </summary>
public sealed record DistillRow
{
    public const string Accepted = "accepted", Rejected = "rejected", Failed = "failed";

    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("index")] public long Index { get; init; }
    [JsonPropertyName("domain")] public string Domain { get; init; } = "";
    [JsonPropertyName("status")] public required string Status { get; init; }
    /// <summary>
    /// Why the row was rejected, in validation order: the first entry is the primary reason (the first validator that
    /// failed, and the one run summaries count); later entries are secondary findings on the same answer.
    /// </summary>
    [JsonPropertyName("rejections")] public List<Rejection> Rejections { get; init; } = [];
    /// <summary>The primary rejection code, or null for a row without rejections.</summary>
    [JsonIgnore] public string? Reason => Rejections.Count > 0 ? Rejections[0].Code : null;
    [JsonPropertyName("problem")] public string Problem { get; init; } = "";
    [JsonPropertyName("reference")] public string Reference { get; init; } = "";
    [JsonPropertyName("difficulty")] public string Difficulty { get; init; } = DifficultyLabeler.Unknown;
    /// <summary>The long trace: teacher reasoning, first-call content (two-call, non-reasoning teacher) or the input's.</summary>
    [JsonPropertyName("long_cot")] public string LongCot { get; init; } = "";
    /// <summary>"reasoning", "content" or "input".</summary>
    [JsonPropertyName("long_cot_source")] public string? LongCotSource { get; init; }
    /// <summary>The full concise DAP answer (thought + solution), i.e. the assistant turn of SFT exports.</summary>
    [JsonPropertyName("content")] public string Content { get; init; } = "";
    [JsonPropertyName("thought")] public string Thought { get; init; } = "";
    [JsonPropertyName("solution")] public string Solution { get; init; } = "";
    /// <summary>The system prompt of the DAP call (the generation prompt).</summary>
    [JsonPropertyName("system_prompt")] public string SystemPrompt { get; init; } = "";
    [JsonPropertyName("mode")] public string Mode { get; init; } = "";
    [JsonPropertyName("teacher")] public string Teacher { get; init; } = "";
    [JsonPropertyName("prompt_version")] public string PromptVersion { get; init; } = "";
    [JsonPropertyName("max_tokens")] public int MaxTokens { get; init; }
    [JsonPropertyName("max_tokens_scope")] public string MaxTokensScope { get; init; } = "";
    [JsonPropertyName("finish_reason")] public string? FinishReason { get; init; }
    /// <summary>Usage summed over the row's calls (null when no call reported usage).</summary>
    [JsonPropertyName("usage")] public TeacherUsage? Usage { get; init; }
    [JsonPropertyName("calls")] public List<CallRecord> Calls { get; init; } = [];
    [JsonPropertyName("validators")] public string Validators { get; init; } = "";

    public static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
    public static DistillRow FromJson(string json) => JsonSerializer.Deserialize<DistillRow>(json, Json)
        ?? throw new InvalidDataException("empty row");
}
