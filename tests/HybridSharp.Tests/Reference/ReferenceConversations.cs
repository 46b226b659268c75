using System.Text.Json.Nodes;

namespace HybridSharp.Tests.Reference;

/// <summary>
/// Conversations the chat-template parity tests render: with and without a system message, multi-turn, tool
/// definitions with tool calls and tool results, reasoning in the history and in <c>reasoning_content</c>; each with
/// the generation prompt on and off and <c>enable_thinking</c> unset, true and false.
/// </summary>
public static class ReferenceConversations
{
    public static JsonArray Tools() => (JsonArray)JsonNode.Parse("""
        [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
         {"type": "function", "function": {"name": "add", "description": "Add two numbers",
          "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}}}]
        """)!.AsArray();

    /// <summary>(name, messages, tools or null).</summary>
    public static IEnumerable<(string Name, JsonArray Messages, JsonArray? Tools)> All()
    {
        yield return ("user", Msgs("""[{"role": "user", "content": "Hello! What is 2 + 2?"}]"""), null);
        yield return ("system-user", Msgs("""[{"role": "system", "content": "You are a concise assistant."}, {"role": "user", "content": "Name three primes."}]"""), null);
        yield return ("multi-turn", Msgs("""
            [{"role": "system", "content": "You answer in one line."},
             {"role": "user", "content": "Hi there"},
             {"role": "assistant", "content": "Hello! How can I help?"},
             {"role": "user", "content": "Ünïcödé 😀 and \"quotes\"\nsecond line"}]
            """), null);
        yield return ("multi-turn-ends-assistant", Msgs("""
            [{"role": "user", "content": "What is the capital of France?"},
             {"role": "assistant", "content": "Paris."}]
            """), null);
        yield return ("reasoning-history", Msgs("""
            [{"role": "user", "content": "What is 17 * 3?"},
             {"role": "assistant", "content": "<think>\n17 * 3 = 51\n</think>\n\n51"},
             {"role": "user", "content": "And 51 + 9?"}]
            """), null);
        yield return ("reasoning-content", Msgs("""
            [{"role": "user", "content": "What is 6 * 7?"},
             {"role": "assistant", "content": "42", "reasoning_content": "6 * 7 = 42"},
             {"role": "user", "content": "Thanks. Now 42 / 2?"},
             {"role": "assistant", "content": "21", "reasoning_content": "half of 42 is 21"}]
            """), null);
        yield return ("tools", Msgs("""
            [{"role": "system", "content": "You can call tools."},
             {"role": "user", "content": "Weather in Paris, and what is 2 + 3?"},
             {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"id": "call_2", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]},
             {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
             {"role": "tool", "tool_call_id": "call_2", "name": "add", "content": "5"},
             {"role": "assistant", "content": "It is 21 degrees and clear in Paris; 2 + 3 = 5."}]
            """), Tools());
        yield return ("tools-no-system", Msgs("""
            [{"role": "user", "content": "What is 2 + 3?"},
             {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]},
             {"role": "tool", "tool_call_id": "c1", "content": "5"}]
            """), Tools());
        yield return ("tools-offered-only", Msgs("""[{"role": "user", "content": "Say hi."}]"""), Tools());
    }

    private static JsonArray Msgs(string json) => JsonNode.Parse(json)!.AsArray();
}
