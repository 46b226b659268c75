using HybridSharp.Distill;

namespace HybridSharp.TeacherSim;

/// <summary>What a scripted teacher does with one request.</summary>
public abstract record TeacherReply
{
    /// <summary>A normal answer (<c>message.content</c> + <c>message.reasoning_content</c>).</summary>
    public sealed record Answer(string Content, string Reasoning = "", string FinishReason = "stop") : TeacherReply;

    /// <summary>An HTTP error in the OpenAI error shape; 429 carries Retry-After / retry-after-ms when <paramref name="RetryAfter"/> is set.</summary>
    public sealed record Error(int Status, string Message, TimeSpan? RetryAfter = null) : TeacherReply;

    /// <summary>Wait this long before answering with <paramref name="Then"/> (provokes client timeouts).</summary>
    public sealed record Hang(TimeSpan Duration, TeacherReply Then) : TeacherReply;

    /// <summary>Streaming: send part of the answer, then end the response without a finish reason or [DONE]. Non-streaming: half a JSON body.</summary>
    public sealed record Truncated(string PartialContent) : TeacherReply;

    /// <summary>A 200 response whose body (or SSE chunk) is not valid JSON.</summary>
    public sealed record MalformedJson : TeacherReply;
}
