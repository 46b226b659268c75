namespace HybridSharp.Chat;

/// <summary>
/// A piece of a rendered conversation. <see cref="IsAssistant"/> marks text the model produces after a generation
/// prompt: an assistant turn's reasoning, content or tool calls and its end-of-turn marker, not the role header before it.
/// </summary>
public sealed record ChatSegment(string Text, bool IsAssistant);
