using System.Text.Json.Nodes;

namespace HybridSharp.Chat;

/// <summary>A conversation and the tool definitions offered in it (OpenAI's <c>tools</c> list; null when none).</summary>
public sealed record Conversation(IReadOnlyList<ChatMessage> Messages, JsonArray? Tools = null);
