using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Data;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Jinja;

namespace HybridSharp.Chat;

/// <summary>
/// The one way a conversation becomes model text. It renders a Jinja chat template exactly as transformers'
/// <c>apply_chat_template</c> does — the variables are <c>messages</c>, <c>tools</c> (null when none), <c>documents</c>
/// (null), <c>add_generation_prompt</c>, every special token tokenizer_config.json names (<c>bos_token</c>,
/// <c>eos_token</c>, …) and extra keyword arguments such as <c>enable_thinking</c> — and derives from the same template
/// what generation and training need: the end-of-turn marker to stop on (<see cref="StopStrings"/>) and which rendered
/// characters are the assistant's (<see cref="Segments"/>).
/// </summary>
/// <remarks>
/// The rendered text is encoded without adding special tokens (as <c>apply_chat_template(tokenize=True)</c> does): a
/// template that wants BOS writes <c>{{ bos_token }}</c>. A template given in the list form picks <c>tool_use</c> when
/// tools are passed and the template has one, else <c>default</c>.
/// </remarks>
public sealed class ChatTemplate
{
    private const string Probe = "\u2063probe\u2063";
    private readonly JinjaTemplate _default;
    private readonly JinjaTemplate? _toolUse;
    private readonly IReadOnlyDictionary<string, string> _specialTokens;

    private ChatTemplate(JinjaTemplate template, JinjaTemplate? toolUse, ITokenizer tokenizer, IReadOnlyDictionary<string, string> specialTokens, string source)
    {
        _default = template;
        _toolUse = toolUse;
        _specialTokens = specialTokens;
        Source = source;
        EndOfTurn = FindEndOfTurn(tokenizer);
        var eos = specialTokens.GetValueOrDefault("eos_token");
        StopStrings = new[] { EndOfTurn, eos }.OfType<string>().Where(s => s.Length > 0).Distinct().ToList();
    }

    /// <summary>Where the template came from: a file, the tokenizer's <c>chat_template</c>, or the built-in ChatML.</summary>
    public string Source { get; }

    /// <summary>The template's text (the <c>default</c> one of a named list).</summary>
    public string Text => _default.Source;

    /// <summary>
    /// The special token the template writes right after an assistant message (<c>&lt;|im_end|&gt;</c>,
    /// <c>&lt;|eot_id|&gt;</c>, <c>&lt;end_of_turn&gt;</c>, …); null when the template writes none.
    /// </summary>
    public string? EndOfTurn { get; }

    /// <summary>Strings that end an assistant turn: <see cref="EndOfTurn"/> and the EOS token. Generation stops on them.</summary>
    public IReadOnlyList<string> StopStrings { get; }

    /// <summary>
    /// The template for a tokenizer: <paramref name="templateFile"/> when given; else the tokenizer's own
    /// (tokenizer_config.json or chat_template.jinja); else a <c>chat_template.jinja</c> in
    /// <paramref name="modelDirectory"/>; else ChatML where the vocabulary has ChatML's tokens (the byte tokenizer).
    /// </summary>
    /// <exception cref="ArgumentException">No template and no ChatML tokens, or a template that does not parse.</exception>
    public static ChatTemplate For(ITokenizer tokenizer, string? modelDirectory = null, string? templateFile = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var specials = tokenizer is HfBpeTokenizer hf ? hf.SpecialTokenTexts : DefaultSpecials(tokenizer);
        if (templateFile is not null)
        {
            if (!File.Exists(templateFile)) throw new FileNotFoundException($"chat template file not found: {templateFile}", templateFile);
            return new ChatTemplate(Parse(File.ReadAllText(templateFile), templateFile), null, tokenizer, specials, templateFile);
        }
        if (tokenizer is HfBpeTokenizer withTemplate && withTemplate.ChatTemplate is { } text)
        {
            var toolUse = withTemplate.ChatTemplates.TryGetValue("tool_use", out var t) ? Parse(t, "chat_template tool_use") : null;
            return new ChatTemplate(Parse(text, "chat_template"), toolUse, tokenizer, specials, "the tokenizer's chat_template");
        }
        if (modelDirectory is not null && Path.Combine(modelDirectory, TemplateFileName) is var beside && File.Exists(beside))
            return new ChatTemplate(Parse(File.ReadAllText(beside), beside), null, tokenizer, specials, beside);
        if (tokenizer.SpecialTokens.ContainsKey("<|im_start|>") && tokenizer.SpecialTokens.ContainsKey("<|im_end|>"))
            return new ChatTemplate(Parse(ChatMl.Template, "ChatML"), null, tokenizer, specials, "ChatML (built in)");
        throw new ArgumentException("the tokenizer has no chat template and no ChatML tokens; give a Jinja template file as `templatePath`");
    }

    /// <summary>The file name a model directory keeps its chat template under (as transformers saves it).</summary>
    public const string TemplateFileName = "chat_template.jinja";

    /// <summary>Renders a conversation to the prompt text.</summary>
    /// <exception cref="TemplateException">The template raised or failed (the message names the template line).</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, JsonArray? tools = null, JsonObject? kwargs = null) =>
        Render(ChatMessage.ToJson(messages), tools, addGenerationPrompt, kwargs);

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
    /// The rendered conversation cut into context and assistant segments (their concatenation is the rendered text).
    /// The assistant's part of a turn is what the model writes after the generation prompt, through the template's
    /// end-of-turn marker. Where the template marks it with <c>{% generation %}</c> blocks, those blocks are used.
    /// Otherwise turn i starts where the render of the messages before it with <c>add_generation_prompt</c> stops
    /// agreeing with the full render, and ends after the first <see cref="EndOfTurn"/> from there (without such a
    /// marker: where the render of messages 0..i stops agreeing with the full render). Templates that rewrite earlier
    /// turns (Qwen3 drops the reasoning of turns before the last question) are covered by this rule.
    /// </summary>
    /// <exception cref="InvalidDataException">An assistant turn the rule cannot locate.</exception>
    public IReadOnlyList<ChatSegment> Segments(IReadOnlyList<ChatMessage> messages, JsonArray? tools = null, JsonObject? kwargs = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("a conversation needs at least one message");
        var all = ChatMessage.ToJson(messages);
        var (full, marked) = RenderWithSpans(all, tools, false, kwargs);
        var spans = marked.Count > 0 ? marked.OrderBy(s => s.Start).ToList() : LocateAssistantTurns(messages, all, full, tools, kwargs);

        var segments = new List<ChatSegment>(spans.Count * 2 + 1);
        int at = 0;
        foreach (var (start, end) in spans)
        {
            if (start < at) throw new InvalidDataException("the chat template's assistant spans overlap");
            if (start > at) segments.Add(new ChatSegment(full[at..start], false));
            if (end > start) segments.Add(new ChatSegment(full[start..end], true));
            at = Math.Max(at, end);
        }
        if (at < full.Length) segments.Add(new ChatSegment(full[at..], false));
        return segments;
    }

    private List<(int Start, int End)> LocateAssistantTurns(IReadOnlyList<ChatMessage> messages, JsonArray all, string full, JsonArray? tools, JsonObject? kwargs)
    {
        var spans = new List<(int, int)>();
        int previousEnd = 0;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ChatMessage.Assistant) continue;
            string prompt = i == 0 ? "" : Render(Prefix(all, i), tools, addGenerationPrompt: true, kwargs);
            int start = Math.Max(CommonPrefix(prompt, full), previousEnd);
            int end = -1;
            if (EndOfTurn is { } eot && full.IndexOf(eot, start, StringComparison.Ordinal) is >= 0 and var p) end = p + eot.Length;
            if (end < 0) end = CommonPrefix(Render(Prefix(all, i + 1), tools, addGenerationPrompt: false, kwargs), full);
            if (end <= start)
                throw new InvalidDataException($"cannot locate assistant message {i} in the rendered conversation (the template renders it differently in the " +
                    "full conversation and in its prefix); mark assistant text with {% generation %} in the template, or train on every token");
            spans.Add((start, end));
            previousEnd = end;
        }
        return spans;
    }

    private static JsonArray Prefix(JsonArray all, int count) => new([.. all.Take(count).Select(n => n!.DeepClone())]);

    private static int CommonPrefix(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /// <summary>Renders a one-exchange probe and reads which special token the template writes after the assistant's text.</summary>
    private string? FindEndOfTurn(ITokenizer tokenizer)
    {
        var specials = tokenizer.SpecialTokens.Keys.Concat(_specialTokens.Values).Distinct().OrderByDescending(s => s.Length).ToList();
        ChatMessage[][] probes =
        [
            [ChatMessage.FromUser("Hello"), ChatMessage.FromAssistant(Probe)],
            [ChatMessage.FromSystem("Be brief."), ChatMessage.FromUser("Hello"), ChatMessage.FromAssistant(Probe)],
        ];
        foreach (var probe in probes)
        {
            string text;
            try
            {
                text = Render(probe, addGenerationPrompt: false);
            }
            catch (TemplateException)
            {
                continue;
            }
            int at = text.LastIndexOf(Probe, StringComparison.Ordinal);
            if (at < 0) continue;
            var rest = text[(at + Probe.Length)..];
            return specials.FirstOrDefault(s => s.Length > 0 && rest.StartsWith(s, StringComparison.Ordinal));
        }
        return null;
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

    /// <summary>bos/eos/pad token texts of a tokenizer without tokenizer_config.json (byte, tiktoken).</summary>
    private static IReadOnlyDictionary<string, string> DefaultSpecials(ITokenizer tokenizer)
    {
        var byId = new Dictionary<int, string>();
        foreach (var (text, id) in tokenizer.SpecialTokens) byId.TryAdd(id, text);
        var specials = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string name, int id)
        {
            if (byId.TryGetValue(id, out var text)) specials[name] = text;
        }
        Add("bos_token", tokenizer.BosId);
        Add("eos_token", tokenizer.EosId);
        Add("pad_token", tokenizer.PadId);
        return specials;
    }
}
