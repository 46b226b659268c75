using System.Text.Json;
using HybridSharp.Inference;

namespace HybridSharp.Sft;

/// <summary>
/// Reads conversations for supervised fine-tuning from JSONL or Parquet in either common layout:
/// <list type="bullet">
/// <item>TRL <c>messages</c>: <c>{"messages": [{"role": "system"|"user"|"assistant", "content": "…"}, …]}</c>;</item>
/// <item>ShareGPT <c>conversations</c>: <c>{"conversations": [{"from": "system"|"human"|"gpt", "value": "…"}, …]}</c>
/// (LLaMA-Factory's optional top-level <c>system</c> field becomes the system message).</item>
/// </list>
/// The layout is detected per record. A record without an assistant turn is rejected with its line/row number.
/// </summary>
public static class ChatDataReader
{
    /// <summary>All conversations of <paramref name="path"/>, in file order.</summary>
    public static IReadOnlyList<IReadOnlyList<ChatMessage>> Read(string path)
    {
        var list = new List<IReadOnlyList<ChatMessage>>();
        foreach (var (number, record) in TabularRecords.Read(path))
            list.Add(Parse(record, TabularRecords.Where(path, number)));
        if (list.Count == 0) throw new InvalidDataException($"{path}: no conversations");
        return list;
    }

    /// <summary>One record → messages; <paramref name="where"/> prefixes error messages.</summary>
    public static IReadOnlyList<ChatMessage> Parse(JsonElement record, string where)
    {
        List<ChatMessage> messages;
        if (record.TryGetProperty("messages", out var msgs) && msgs.ValueKind == JsonValueKind.Array)
            messages = ParseTurns(msgs, "role", "content", where, "messages");
        else if (record.TryGetProperty("conversations", out var conv) && conv.ValueKind == JsonValueKind.Array)
            messages = ParseTurns(conv, "from", "value", where, "conversations");
        else
            throw new InvalidDataException($"{where}: expected a \"messages\" (role/content) or \"conversations\" (from/value) list");

        if (TabularRecords.Text(record, "system") is { Length: > 0 } system && messages.All(m => m.Role != ChatMessage.System))
            messages.Insert(0, ChatMessage.FromSystem(system));
        if (messages.All(m => m.Role != ChatMessage.Assistant))
            throw new InvalidDataException($"{where}: the conversation has no assistant turn to train on");
        return messages;
    }

    private static List<ChatMessage> ParseTurns(JsonElement turns, string roleKey, string contentKey, string where, string listName)
    {
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var turn in turns.EnumerateArray())
        {
            if (turn.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{where}: {listName}[{i}] is {turn.ValueKind}, expected an object");
            // Accept either key pair inside either list: some exports mix them.
            var role = TabularRecords.Text(turn, roleKey) ?? TabularRecords.Text(turn, roleKey == "role" ? "from" : "role")
                ?? throw new InvalidDataException($"{where}: {listName}[{i}] has no \"{roleKey}\"");
            var content = TabularRecords.Text(turn, contentKey) ?? TabularRecords.Text(turn, contentKey == "content" ? "value" : "content")
                ?? throw new InvalidDataException($"{where}: {listName}[{i}] has no \"{contentKey}\"");
            list.Add(new ChatMessage(NormalizeRole(role, where, $"{listName}[{i}]"), content));
            i++;
        }
        if (list.Count == 0) throw new InvalidDataException($"{where}: {listName} is empty");
        return list;
    }

    /// <summary>ShareGPT and OpenAI role names → system, user, assistant.</summary>
    public static string NormalizeRole(string role, string where, string item) => role.Trim().ToLowerInvariant() switch
    {
        "system" => ChatMessage.System,
        "user" or "human" => ChatMessage.User,
        "assistant" or "gpt" or "model" or "bot" => ChatMessage.Assistant,
        _ => throw new InvalidDataException($"{where}: {item} has unsupported role \"{role}\" (expected system, user/human or assistant/gpt)"),
    };
}
