namespace HybridSharp.Chat;

/// <summary>A function call the model made: OpenAI's <c>id</c>, function <c>name</c> and <c>arguments</c> as JSON text.</summary>
public sealed record ToolCall(string Id, string Name, string Arguments)
{
    /// <summary>A new call id in OpenAI's style (<c>call_</c> + 24 hex digits).</summary>
    public static string NewId() => "call_" + Guid.NewGuid().ToString("N")[..24];
}
