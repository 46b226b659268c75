using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Chat;
using HybridSharp.Data;

namespace HybridSharp.Sft;

/// <summary>
/// Reads conversations for supervised fine-tuning from JSONL or Parquet in either common layout:
/// <list type="bullet">
/// <item>TRL / OpenAI <c>messages</c>: <c>{"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": "…"}, …]}</c>,
/// with the optional <c>reasoning_content</c>, <c>tool_calls</c> (assistant; then <c>content</c> may be null),
/// <c>tool_call_id</c> and <c>name</c> (tool results), and a top-level <c>tools</c> list, all passed to the chat template;</item>
/// <item>ShareGPT <c>conversations</c>: <c>{"conversations": [{"from": "system"|"human"|"gpt", "value": "…"}, …]}</c>
/// (LLaMA-Factory's optional top-level <c>system</c> field becomes the system message).</item>
/// </list>
/// The layout is detected per record. A record without an assistant turn is rejected with its line/row number. Roles,
/// contents and names are text fields (see <see cref="RecordReadOptions"/>).
/// </summary>
public static class ChatDataReader
{
    /// <summary>All conversations of <paramref name="path"/>, in file order.</summary>
    public static IReadOnlyList<Conversation> Read(string path, RecordReadOptions? read = null)
    {
        var list = new List<Conversation>();
        foreach (var (number, record) in TabularRecords.Read(path))
            list.Add(Parse(record, TabularRecords.Where(path, number), read));
        if (list.Count == 0) throw new InvalidDataException($"{path}: no conversations");
        return list;
    }

    /// <summary>One record → messages; <paramref name="where"/> prefixes error messages.</summary>
    public static Conversation Parse(JsonElement record, string where, RecordReadOptions? read = null)
    {
        List<ChatMessage> messages;
        if (record.TryGetProperty("messages", out var msgs) && msgs.ValueKind == JsonValueKind.Array)
            messages = ParseTurns(msgs, "role", "content", where, "messages", read);
        else if (record.TryGetProperty("conversations", out var conv) && conv.ValueKind == JsonValueKind.Array)
            messages = ParseTurns(conv, "from", "value", where, "conversations", read);
        else
            throw new InvalidDataException($"{where}: expected a \"messages\" (role/content) or \"conversations\" (from/value) list");

        if (TabularRecords.Text(record, "system", where, read) is { Length: > 0 } system && messages.All(m => m.Role != ChatMessage.System))
            messages.Insert(0, ChatMessage.FromSystem(system));
        if (messages.All(m => m.Role != ChatMessage.Assistant))
            throw new InvalidDataException($"{where}: the conversation has no assistant turn to train on");
        JsonArray? tools = null;
        if (record.TryGetProperty("tools", out var t) && t.ValueKind != JsonValueKind.Null)
            tools = t.ValueKind == JsonValueKind.Array ? (JsonArray)JsonNode.Parse(t.GetRawText())!
                : throw new InvalidDataException($"{where}: \"tools\" must be a list");
        return new Conversation(messages, tools);
    }

    private static List<ChatMessage> ParseTurns(JsonElement turns, string roleKey, string contentKey, string where, string listName,
        RecordReadOptions? read)
    {
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var turn in turns.EnumerateArray())
        {
            if (turn.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{where}: {listName}[{i}] is {turn.ValueKind}, expected an object");
            string at = $"{where}: {listName}[{i}]";
            string? Text(string key) => TabularRecords.Text(turn, key, at, read);
            // Accept either key pair inside either list: some exports mix them.
            var role = Text(roleKey) ?? Text(roleKey == "role" ? "from" : "role")
                ?? throw new InvalidDataException($"{where}: {listName}[{i}] has no \"{roleKey}\"");
            var toolCalls = turn.TryGetProperty("tool_calls", out var tc) && tc.ValueKind != JsonValueKind.Null
                ? tc.ValueKind == JsonValueKind.Array ? (JsonArray)JsonNode.Parse(tc.GetRawText())!
                    : throw new InvalidDataException($"{where}: {listName}[{i}].tool_calls must be a list")
                : null;
            var content = Text(contentKey) ?? Text(contentKey == "content" ? "value" : "content");
            if (content is null && toolCalls is null) throw new InvalidDataException($"{where}: {listName}[{i}] has no \"{contentKey}\"");
            list.Add(new ChatMessage(NormalizeRole(role, where, $"{listName}[{i}]"), content)
            {
                ReasoningContent = Text("reasoning_content"),
                ToolCalls = toolCalls,
                ToolCallId = Text("tool_call_id"),
                Name = Text("name"),
            });
            i++;
        }
        if (list.Count == 0) throw new InvalidDataException($"{where}: {listName} is empty");
        return list;
    }

    /// <summary>ShareGPT and OpenAI role names → system, user, assistant, tool.</summary>
    public static string NormalizeRole(string role, string where, string item) => role.Trim().ToLowerInvariant() switch
    {
        "system" or "developer" => ChatMessage.System,
        "user" or "human" => ChatMessage.User,
        "assistant" or "gpt" or "model" or "bot" => ChatMessage.Assistant,
        "tool" or "observation" => ChatMessage.Tool,
        _ => throw new InvalidDataException($"{where}: {item} has unsupported role \"{role}\" (expected system, user/human, assistant/gpt or tool)"),
    };
}
