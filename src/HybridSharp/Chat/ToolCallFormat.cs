using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Grammar;

namespace HybridSharp.Chat;

/// <summary>
/// How a model writes tool calls, read from its chat template:
/// <list type="bullet">
/// <item><see cref="ToolCallStyle.Hermes"/> (Qwen2.5 / Qwen3, Hermes, most ChatML models):
/// <c>&lt;tool_call&gt;\n{"name": …, "arguments": {…}}\n&lt;/tool_call&gt;</c>, possibly several, possibly after text;
/// also the default for templates that show no tool format.</item>
/// <item><see cref="ToolCallStyle.Llama3Json"/> (templates with Llama 3 headers): the whole reply is <c>{"name": …, "parameters": {…}}</c>.</item>
/// <item><see cref="ToolCallStyle.Mistral"/>: <c>[TOOL_CALLS][{"name": …, "arguments": {…}}, …]</c>.</item>
/// <item><see cref="ToolCallStyle.DeepSeek"/> (DeepSeek-V3 / R1): <c>&lt;｜tool▁calls▁begin｜&gt;&lt;｜tool▁call▁begin｜&gt;function&lt;｜tool▁sep｜&gt;NAME\n```json\nARGS\n```&lt;｜tool▁call▁end｜&gt;…&lt;｜tool▁calls▁end｜&gt;</c>.</item>
/// </list>
/// The same format gives the parser of replies (<see cref="NewParser"/>) and the grammar that forces a call
/// (<see cref="Grammar"/>, for <c>tool_choice</c> "required" or a named function).
/// </summary>
public sealed class ToolCallFormat
{
    internal const string DeepSeekCallsBegin = "<｜tool▁calls▁begin｜>", DeepSeekCallBegin = "<｜tool▁call▁begin｜>", DeepSeekSep = "<｜tool▁sep｜>",
        DeepSeekCallEnd = "<｜tool▁call▁end｜>", DeepSeekCallsEnd = "<｜tool▁calls▁end｜>";

    private ToolCallFormat(ToolCallStyle style) => Style = style;

    public ToolCallStyle Style { get; }

    /// <summary>The format a chat template's text shows.</summary>
    public static ToolCallFormat For(ChatTemplate template)
    {
        var t = template.Text;
        if (t.Contains(DeepSeekCallBegin, StringComparison.Ordinal)) return new(ToolCallStyle.DeepSeek);
        if (t.Contains("[TOOL_CALLS]", StringComparison.Ordinal)) return new(ToolCallStyle.Mistral);
        if (t.Contains("<tool_call>", StringComparison.Ordinal)) return new(ToolCallStyle.Hermes);
        // Llama 3 headers: Llama 3.1 and later call tools as a bare JSON object (their template shows it; older ones do not).
        if (t.Contains("<|python_tag|>", StringComparison.Ordinal) || t.Contains("<|start_header_id|>", StringComparison.Ordinal))
            return new(ToolCallStyle.Llama3Json);
        return new(ToolCallStyle.Hermes);
    }

    /// <summary>A parser for one reply.</summary>
    public ToolCallParser NewParser() => new(this);

    /// <summary>
    /// The grammar of exactly one call of one of <paramref name="tools"/> (OpenAI tool objects), or only of
    /// <paramref name="function"/> when given; arguments follow each function's <c>parameters</c> schema.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown function, or a parameters schema outside the supported subset.</exception>
    public GrammarNode Grammar(JsonArray tools, string? function = null)
    {
        var alternatives = new List<GrammarNode>();
        for (int i = 0; i < tools.Count; i++)
        {
            var f = tools[i]?["function"] as JsonObject ?? throw new ArgumentException($"tools[{i}] has no function");
            var name = (string?)f["name"] ?? throw new ArgumentException($"tools[{i}].function has no name");
            if (function is not null && name != function) continue;
            GrammarNode parameters;
            try
            {
                parameters = f["parameters"] is JsonObject p
                    ? JsonSchemaGrammar.Compile(JsonSerializer.SerializeToElement(p))
                    : new ObjectNode([]);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"tools[{i}].function.parameters: {ex.Message}", ex);
            }
            alternatives.Add(Style switch
            {
                ToolCallStyle.DeepSeek => new FramedNode(Utf8($"{DeepSeekCallsBegin}{DeepSeekCallBegin}function{DeepSeekSep}{name}\n```json\n"), parameters,
                    Utf8($"\n```{DeepSeekCallEnd}{DeepSeekCallsEnd}")),
                ToolCallStyle.Llama3Json => Call(name, "parameters", parameters),
                _ => Call(name, "arguments", parameters),
            });
        }
        if (alternatives.Count == 0) throw new ArgumentException(function is null ? "no tools to call" : $"tool_choice names '{function}', which is not in tools");
        GrammarNode call = alternatives.Count == 1 ? alternatives[0] : new AnyOfNode(alternatives);
        return Style switch
        {
            ToolCallStyle.Hermes => new FramedNode(Utf8("<tool_call>\n"), call, Utf8("\n</tool_call>")),
            ToolCallStyle.Mistral => new FramedNode(Utf8("[TOOL_CALLS]["), call, Utf8("]")),
            _ => call,
        };
    }

    private static ObjectNode Call(string name, string argumentsKey, GrammarNode parameters) => new(
    [
        new PropertyNode("name", Utf8("\"name\""), new LiteralNode([Utf8(JsonSerializer.Serialize(name))]), true),
        new PropertyNode(argumentsKey, Utf8($"\"{argumentsKey}\""), parameters, true),
    ]);

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Where a reply's tool-call region starts; null for Llama 3 (the whole reply is the call).</summary>
    internal string? StartMarker => Style switch
    {
        ToolCallStyle.Hermes => "<tool_call>",
        ToolCallStyle.Mistral => "[TOOL_CALLS]",
        ToolCallStyle.DeepSeek => DeepSeekCallsBegin,
        _ => null,
    };
}

/// <summary>The tool-call formats <see cref="ToolCallFormat"/> knows.</summary>
public enum ToolCallStyle { Hermes, Llama3Json, Mistral, DeepSeek }
