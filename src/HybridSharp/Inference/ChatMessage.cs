namespace HybridSharp.Inference;

/// <summary>One chat turn: <paramref name="Role"/> is "system", "user" or "assistant" (other roles are rejected by templates).</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public const string System = "system", User = "user", Assistant = "assistant";

    public static ChatMessage FromSystem(string content) => new(System, content);
    public static ChatMessage FromUser(string content) => new(User, content);
    public static ChatMessage FromAssistant(string content) => new(Assistant, content);
}

/// <summary>
/// A piece of a rendered conversation. <see cref="IsAssistant"/> marks the text a model is trained to produce: an
/// assistant message's content and its end-of-turn marker (so the model learns to stop), not the role header.
/// </summary>
public sealed record ChatSegment(string Text, bool IsAssistant);
