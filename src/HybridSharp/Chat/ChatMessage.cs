using System.Text.Json;
using System.Text.Json.Nodes;

namespace HybridSharp.Chat;

/// <summary>
/// One chat turn in OpenAI's shape. <paramref name="Role"/> is system, user, assistant or tool; <paramref name="Content"/>
/// may be null for an assistant turn that only calls tools. Chat templates receive it as the message object they expect
/// (<see cref="ToJson"/>).
/// </summary>
public sealed record ChatMessage(string Role, string? Content)
{
    public const string System = "system", User = "user", Assistant = "assistant", Tool = "tool";

    /// <summary>The assistant's reasoning, kept apart from the answer (<c>reasoning_content</c>; Qwen3 and DeepSeek-R1 templates read it).</summary>
    public string? ReasoningContent { get; init; }

    /// <summary>An assistant turn's tool calls in OpenAI's form: <c>[{"id", "type": "function", "function": {"name", "arguments"}}]</c>.</summary>
    public JsonArray? ToolCalls { get; init; }

    /// <summary>A tool result's <c>tool_call_id</c>.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>A tool result's function <c>name</c> (some templates print it).</summary>
    public string? Name { get; init; }

    public static ChatMessage FromSystem(string content) => new(System, content);
    public static ChatMessage FromUser(string content) => new(User, content);
    public static ChatMessage FromAssistant(string content) => new(Assistant, content);
    public static ChatMessage FromTool(string content, string? toolCallId = null) => new(Tool, content) { ToolCallId = toolCallId };

    /// <summary>
    /// The message as a chat template sees it. Tool-call <c>arguments</c> sent as JSON text (OpenAI's wire form) become
    /// the JSON object they encode, as templates print them with <c>tojson</c> (vLLM does the same).
    /// </summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["role"] = Role, ["content"] = Content };
        if (ReasoningContent is not null) o["reasoning_content"] = ReasoningContent;
        if (ToolCalls is not null) o["tool_calls"] = ParsedArguments(ToolCalls);
        if (ToolCallId is not null) o["tool_call_id"] = ToolCallId;
        if (Name is not null) o["name"] = Name;
        return o;
    }

    /// <summary>A conversation as the <c>messages</c> list a template renders.</summary>
    public static JsonArray ToJson(IEnumerable<ChatMessage> messages) => new([.. messages.Select(m => (JsonNode)m.ToJson())]);

    private static JsonArray ParsedArguments(JsonArray calls)
    {
        var copy = (JsonArray)calls.DeepClone();
        foreach (var call in copy)
        {
            if (call is not JsonObject c) continue;
            var holder = c["function"] as JsonObject ?? c;
            if (holder["arguments"] is JsonValue v && v.TryGetValue<string>(out var text))
            {
                try
                {
                    if (JsonNode.Parse(text) is JsonObject args) holder["arguments"] = args;
                }
                catch (JsonException)
                {
                    // Not JSON: the template gets the text as sent.
                }
            }
        }
        return copy;
    }
}
