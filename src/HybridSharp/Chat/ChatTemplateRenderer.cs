using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Data;
using HybridSharp.Data.Tokenizers;
using HybridSharp.IO.HfInterop;
using HybridSharp.Jinja;

namespace HybridSharp.Chat;

/// <summary>
/// Renders conversations with a tokenizer's Jinja chat template exactly as transformers' <c>apply_chat_template</c>
/// does: the variables are <c>messages</c>, <c>tools</c> (null when none), <c>documents</c> (null),
/// <c>add_generation_prompt</c>, every special token tokenizer_config.json names (<c>bos_token</c>, <c>eos_token</c>,
/// …) and any extra keyword arguments (e.g. <c>enable_thinking</c>). A template given in the list form picks
/// <c>tool_use</c> when tools are passed and the template has one, else <c>default</c>.
/// </summary>
public sealed class ChatTemplateRenderer
{
    private readonly JinjaTemplate _default;
    private readonly JinjaTemplate? _toolUse;
    private readonly IReadOnlyDictionary<string, string> _specialTokens;

    private ChatTemplateRenderer(JinjaTemplate template, JinjaTemplate? toolUse, IReadOnlyDictionary<string, string> specialTokens, string source)
    {
        _default = template;
        _toolUse = toolUse;
        _specialTokens = specialTokens;
        Source = source;
    }

    /// <summary>Where the template came from (a file, tokenizer_config.json, or the built-in ChatML).</summary>
    public string Source { get; }

    /// <summary>
    /// The renderer for a tokenizer: <paramref name="templateFile"/> when given, else the tokenizer's own template, else
    /// ChatML where the vocabulary has ChatML's tokens (the byte tokenizer).
    /// </summary>
    /// <exception cref="ArgumentException">No template and no ChatML tokens, or a template that does not parse.</exception>
    public static ChatTemplateRenderer For(ITokenizer tokenizer, string? templateFile = null)
    {
        var specials = tokenizer is HfBpeTokenizer hf ? hf.SpecialTokenTexts : DefaultSpecials(tokenizer);
        if (templateFile is not null)
        {
            if (!File.Exists(templateFile)) throw new FileNotFoundException($"chat template file not found: {templateFile}", templateFile);
            return new ChatTemplateRenderer(Parse(File.ReadAllText(templateFile), templateFile), null, specials, templateFile);
        }
        if (tokenizer is HfBpeTokenizer withTemplate && withTemplate.ChatTemplate is { } text)
        {
            var toolUse = withTemplate.ChatTemplates.TryGetValue("tool_use", out var t) ? Parse(t, "chat_template tool_use") : null;
            return new ChatTemplateRenderer(Parse(text, "chat_template"), toolUse, specials, "the tokenizer's chat_template");
        }
        if (tokenizer.SpecialTokens.ContainsKey("<|im_start|>") && tokenizer.SpecialTokens.ContainsKey("<|im_end|>"))
            return new ChatTemplateRenderer(Parse(HfTokenizerFiles.ChatMlTemplate, "ChatML"), null, specials, "ChatML (built in)");
        throw new ArgumentException("the tokenizer has no chat template and no ChatML tokens; give one with --chat-template FILE (a Jinja file)");
    }

    /// <summary>Renders <paramref name="messages"/> (OpenAI-style message objects) to the prompt text.</summary>
    /// <exception cref="TemplateException">The template raised or failed (the message names the template line).</exception>
    public string Render(JsonArray messages, JsonArray? tools = null, bool addGenerationPrompt = false, JsonObject? kwargs = null) =>
        RenderWithSpans(messages, tools, addGenerationPrompt, kwargs).Text;

    /// <summary>Renders and also returns the ranges of <c>{% generation %}</c> blocks (assistant text in templates that mark it).</summary>
    public (string Text, IReadOnlyList<(int Start, int End)> GenerationSpans) RenderWithSpans(JsonArray messages, JsonArray? tools, bool addGenerationPrompt, JsonObject? kwargs)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in _specialTokens) vars[k] = v;
        if (kwargs is not null)
            foreach (var (k, v) in kwargs) vars[k] = v?.DeepClone();
        vars["messages"] = messages.DeepClone();
        vars["tools"] = tools?.DeepClone();
        vars.TryAdd("documents", null);
        vars["add_generation_prompt"] = addGenerationPrompt;
        var template = tools is { Count: > 0 } && _toolUse is not null ? _toolUse : _default;
        return template.RenderWithSpans(vars);
    }

    /// <summary>
    /// Reads a conversation file: an OpenAI-style request object (<c>{"messages": [...], "tools": [...]}</c>) or a bare
    /// list of messages.
    /// </summary>
    /// <exception cref="InvalidDataException">Not JSON, or neither form.</exception>
    public static (JsonArray Messages, JsonArray? Tools) ReadConversation(string json, string source)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({ex.Message.Split('\n')[0]})", ex);
        }
        return node switch
        {
            JsonArray list => (list, null),
            JsonObject { } obj when obj["messages"] is JsonArray msgs => (msgs, obj["tools"] switch
            {
                null => null,
                JsonArray tools => tools,
                _ => throw new InvalidDataException($"{source}: \"tools\" must be a list"),
            }),
            _ => throw new InvalidDataException($"{source}: expected a list of messages or an object with a \"messages\" list"),
        };
    }

    private static JinjaTemplate Parse(string text, string source)
    {
        try
        {
            return JinjaTemplate.Parse(text);
        }
        catch (TemplateException ex)
        {
            throw new ArgumentException($"{source}: {ex.Message}", ex);
        }
    }

    private static IReadOnlyDictionary<string, string> DefaultSpecials(ITokenizer tokenizer) => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["bos_token"] = tokenizer.Decode([tokenizer.BosId]),
        ["eos_token"] = tokenizer.Decode([tokenizer.EosId]),
        ["pad_token"] = tokenizer.Decode([tokenizer.PadId]),
    };
}
