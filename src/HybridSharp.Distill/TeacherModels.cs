using System.Text.Json.Serialization;

namespace HybridSharp.Distill;

/// <summary>One chat message as sent on the wire (role: system | user | assistant).</summary>
public sealed record TeacherMessage(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content")] string Content);

/// <summary>Generation parameters sent with every request; all of them are part of the cache key.</summary>
public sealed record GenerationParameters
{
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    /// <summary>Sent as <c>max_tokens</c>.</summary>
    public int MaxTokens { get; init; } = 8192;
    /// <summary>What <see cref="MaxTokens"/> caps on the server: "total" (reasoning + answer, current DeepSeek docs) or "answer" (early 2025). Recorded per row.</summary>
    public string MaxTokensScope { get; init; } = "total";
    public long? Seed { get; init; }
}

/// <summary>Token usage of one call, as the server reported it.</summary>
public sealed record TeacherUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens,
    [property: JsonPropertyName("reasoning_tokens")] int? ReasoningTokens);

/// <summary>A parsed teacher answer: <c>message.content</c>, <c>message.reasoning_content</c> / <c>message.reasoning</c>, finish reason and usage.</summary>
public sealed record TeacherResponse(
    [property: JsonPropertyName("content")] string Content,
    [property: JsonPropertyName("reasoning")] string Reasoning,
    [property: JsonPropertyName("finish_reason")] string? FinishReason,
    [property: JsonPropertyName("usage")] TeacherUsage? Usage,
    [property: JsonPropertyName("model")] string? Model);

/// <summary>A failure worth retrying: 429, 5xx, 408, timeouts, connection errors, malformed JSON, truncated streams.</summary>
public sealed class TeacherTransientException(string code, string message, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>Short reason code: http_429, http_5xx, timeout, connection, malformed_json, truncated_stream, stream_error.</summary>
    public string Code { get; } = code;
    /// <summary>The delay the server asked for (Retry-After / retry-after-ms), if any.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>A failure not worth retrying (other 4xx): bad request, unknown model, bad key.</summary>
public sealed class TeacherRequestException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
