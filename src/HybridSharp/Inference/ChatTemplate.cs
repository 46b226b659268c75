using System.Text;
using System.Text.Json;
using HybridSharp.Data;

namespace HybridSharp.Inference;

/// <summary>
/// Turns a conversation into model text. HybridSharp does not run Jinja: it ships the chat formats small models use
/// and recognises them from a model directory's template by their markers.
/// <list type="bullet">
/// <item><c>chatml</c> (the default): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>; generation prompt
/// <c>&lt;|im_start|&gt;assistant\n</c>; stop at <c>&lt;|im_end|&gt;</c>. Qwen, SmolLM, Doge-Instruct and our own models.</item>
/// <item><c>llama3</c>: <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>; stop at <c>&lt;|eot_id|&gt;</c>.</item>
/// <item><c>plain</c>: "System: …\n\nUser: …\n\nAssistant: …\n\n", for base models without chat tokens; stop at "\n\nUser:".</item>
/// </list>
/// A Jinja template that contains none of these formats' markers falls back to ChatML and says so in
/// <see cref="Note"/> (callers print it once).
/// </summary>
public sealed class ChatTemplate
{
    public const string ChatMlName = "chatml", Llama3Name = "llama3", PlainName = "plain";
    public static IReadOnlyList<string> Names { get; } = [ChatMlName, Llama3Name, PlainName];

    private readonly Func<string, string> _header;
    private readonly string _endOfTurn;
    private readonly string _afterTurn;

    private ChatTemplate(string name, Func<string, string> header, string endOfTurn, string afterTurn, IReadOnlyList<string> stopStrings, string? note = null)
    {
        Name = name;
        _header = header;
        _endOfTurn = endOfTurn;
        _afterTurn = afterTurn;
        StopStrings = stopStrings;
        Note = note;
    }

    /// <summary>The format's name: chatml, llama3 or plain.</summary>
    public string Name { get; }

    /// <summary>Strings that end an assistant turn; generation stops on them and they are not part of the reply.</summary>
    public IReadOnlyList<string> StopStrings { get; }

    /// <summary>Set when the template was chosen by fallback (an unrecognised Jinja template); null otherwise.</summary>
    public string? Note { get; }

    public static ChatTemplate ChatMl { get; } = new(ChatMlName, role => $"<|im_start|>{role}\n", "<|im_end|>", "\n", ["<|im_end|>"]);
    public static ChatTemplate Llama3 { get; } = new(Llama3Name, role => $"<|start_header_id|>{role}<|end_header_id|>\n\n", "<|eot_id|>", "", ["<|eot_id|>", "<|end_of_text|>"]);
    public static ChatTemplate Plain { get; } = new(PlainName, role => $"{char.ToUpperInvariant(role[0])}{role[1..]}: ", "", "\n\n", ["\n\nUser:", "\n\nSystem:"]);

    /// <summary>
    /// Resolves a template by name (chatml, llama3, plain) or from a Jinja template's text by its markers.
    /// Null or empty gives ChatML.
    /// </summary>
    public static ChatTemplate Resolve(string? nameOrJinja)
    {
        if (string.IsNullOrWhiteSpace(nameOrJinja)) return ChatMl;
        switch (nameOrJinja.Trim().ToLowerInvariant())
        {
            case ChatMlName: return ChatMl;
            case Llama3Name: return Llama3;
            case PlainName: return Plain;
        }
        if (nameOrJinja.Contains("<|im_start|>", StringComparison.Ordinal)) return ChatMl;
        if (nameOrJinja.Contains("<|start_header_id|>", StringComparison.Ordinal)) return Llama3;
        if (!nameOrJinja.Contains("{%", StringComparison.Ordinal) && !nameOrJinja.Contains("{{", StringComparison.Ordinal))
            throw new ArgumentException($"unknown chat template '{nameOrJinja}' (known: {string.Join(", ", Names)}, or a Jinja template using ChatML or Llama-3 markers)");
        return new ChatTemplate(ChatMlName, ChatMl._header, ChatMl._endOfTurn, ChatMl._afterTurn, ChatMl.StopStrings,
            "the model's Jinja chat template uses no known markers; using ChatML");
    }

    /// <summary>
    /// The template a model directory names: <c>chat_template</c> in tokenizer_config.json (a name or Jinja text,
    /// string or list form), else chat_template.jinja, else ChatML.
    /// </summary>
    public static ChatTemplate ForModelDirectory(string directory)
    {
        var configPath = Path.Combine(directory, TokenizerFactory.ConfigFile);
        if (File.Exists(configPath))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(configPath));
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("chat_template", out var el))
            {
                if (el.ValueKind == JsonValueKind.String) return Resolve(el.GetString());
                if (el.ValueKind == JsonValueKind.Array)
                {
                    string? first = null;
                    foreach (var t in el.EnumerateArray())
                    {
                        if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("template", out var tt) || tt.ValueKind != JsonValueKind.String) continue;
                        if (t.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default") return Resolve(tt.GetString());
                        first ??= tt.GetString();
                    }
                    if (first is not null) return Resolve(first);
                }
            }
        }
        var jinja = Path.Combine(directory, "chat_template.jinja");
        return File.Exists(jinja) ? Resolve(File.ReadAllText(jinja)) : ChatMl;
    }

    /// <summary>
    /// The conversation as segments: role headers and non-assistant turns are context; each assistant message's content
    /// plus its end-of-turn marker is an assistant segment (the tokens SFT trains on). With
    /// <paramref name="addGenerationPrompt"/> the text ends with an open assistant header for the model to continue.
    /// </summary>
    public IReadOnlyList<ChatSegment> Segments(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("a conversation needs at least one message");
        var segments = new List<ChatSegment>(messages.Count * 3 + 1);
        var context = new StringBuilder();
        foreach (var m in messages)
        {
            if (m.Role is not (ChatMessage.System or ChatMessage.User or ChatMessage.Assistant))
                throw new ArgumentException($"unsupported chat role '{m.Role}' (expected system, user or assistant)");
            ArgumentNullException.ThrowIfNull(m.Content);
            context.Append(_header(m.Role));
            if (m.Role == ChatMessage.Assistant)
            {
                segments.Add(new ChatSegment(context.ToString(), false));
                context.Clear();
                segments.Add(new ChatSegment(m.Content + _endOfTurn, true));
            }
            else
            {
                context.Append(m.Content).Append(_endOfTurn);
            }
            context.Append(_afterTurn);
        }
        if (addGenerationPrompt) context.Append(_header(ChatMessage.Assistant));
        if (context.Length > 0) segments.Add(new ChatSegment(context.ToString(), false));
        return segments;
    }

    /// <summary>The conversation as one string (the concatenation of <see cref="Segments"/>).</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        string.Concat(Segments(messages, addGenerationPrompt).Select(s => s.Text));
}
