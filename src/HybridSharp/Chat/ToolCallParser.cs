using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace HybridSharp.Chat;

/// <summary>
/// Reads tool calls out of one reply as it streams (<see cref="ToolCallFormat"/>): text before the tool-call region
/// passes through at once (held back only while it could be the start of the region's marker); the region is kept
/// until the end, then parsed. A region that does not parse is returned as content, never dropped.
/// </summary>
public sealed partial class ToolCallParser
{
    private readonly ToolCallFormat _format;
    private readonly StringBuilder _held = new();
    private bool _inRegion, _decided;

    internal ToolCallParser(ToolCallFormat format) => _format = format;

    /// <summary>Feeds reply text; returns the content that can be shown now.</summary>
    public string Push(string text)
    {
        if (_inRegion) { _held.Append(text); return ""; }
        if (_decided) return text; // Llama 3 reply that is not a call
        _held.Append(text);
        var s = _held.ToString();
        if (_format.StartMarker is not { } marker)
        {
            var lead = s.TrimStart();
            if (lead.Length == 0) return "";
            _decided = true;
            if (lead.StartsWith('{') || lead.StartsWith("<|python_tag|>", StringComparison.Ordinal)) { _inRegion = true; return ""; }
            _held.Clear();
            return s;
        }
        int at = s.IndexOf(marker, StringComparison.Ordinal);
        if (at >= 0)
        {
            _inRegion = true;
            _held.Remove(0, at);
            return s[..at];
        }
        int keep = ReasoningSplitter.PartialSuffix(s, marker); // text that may still become the marker waits
        _held.Remove(0, s.Length - keep);
        return s[..^keep];
    }

    /// <summary>The content still held and the calls of the region (none when there was no region or it did not parse).</summary>
    public (string Content, IReadOnlyList<ToolCall> Calls) Finish()
    {
        var rest = _held.ToString();
        _held.Clear();
        if (!_inRegion) return (rest, []);
        var (calls, leftover) = Parse(rest);
        return calls is null ? (rest, []) : (leftover, calls);
    }

    /// <summary>Parses a whole reply at once.</summary>
    public static (string Content, IReadOnlyList<ToolCall> Calls) ParseReply(ToolCallFormat format, string reply)
    {
        var parser = format.NewParser();
        var content = parser.Push(reply);
        var (rest, calls) = parser.Finish();
        return (content + rest, calls);
    }

    private (List<ToolCall>? Calls, string Leftover) Parse(string region)
    {
        try
        {
            switch (_format.Style)
            {
                case ToolCallStyle.Hermes:
                {
                    var calls = new List<ToolCall>();
                    foreach (Match m in HermesBlock().Matches(region)) calls.Add(FromObject(m.Groups[1].Value, "arguments"));
                    var leftover = HermesBlock().Replace(region, "").Trim();
                    return calls.Count > 0 ? (calls, leftover) : (null, region);
                }
                case ToolCallStyle.Mistral:
                {
                    var json = JsonNode.Parse(region["[TOOL_CALLS]".Length..]);
                    var items = json is JsonArray a ? a.ToList() : [json];
                    return ([.. items.Select(i => FromObject(i!.ToJsonString(), "arguments"))], "");
                }
                case ToolCallStyle.DeepSeek:
                {
                    var calls = DeepSeekCall().Matches(region).Select(m => new ToolCall(ToolCall.NewId(), m.Groups[1].Value.Trim(), Compact(m.Groups[2].Value))).ToList();
                    return calls.Count > 0 ? (calls, "") : (null, region);
                }
                default:
                {
                    var text = region.Trim();
                    if (text.StartsWith("<|python_tag|>", StringComparison.Ordinal)) text = text["<|python_tag|>".Length..];
                    return ([FromObject(text, "parameters")], "");
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException or InvalidOperationException or NullReferenceException)
        {
            return (null, region);
        }
    }

    /// <summary>A call from <c>{"name": …, "arguments" | "parameters": {…}}</c>.</summary>
    private static ToolCall FromObject(string json, string argumentsKey)
    {
        var o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException("a tool call must be a JSON object");
        var name = (string?)o["name"] ?? throw new InvalidDataException("a tool call needs a name");
        var args = o[argumentsKey] ?? o["arguments"] ?? o["parameters"] ?? new JsonObject();
        return new ToolCall(ToolCall.NewId(), name, args is JsonValue v && v.TryGetValue<string>(out var text) ? text : args.ToJsonString());
    }

    private static string Compact(string json) => JsonNode.Parse(json)?.ToJsonString() ?? throw new InvalidDataException("empty arguments");

    [GeneratedRegex(@"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", RegexOptions.Singleline)]
    private static partial Regex HermesBlock();

    [GeneratedRegex(@"<｜tool▁call▁begin｜>(?:function)?<｜tool▁sep｜>(.+?)\n```(?:json)?\n(.*?)\n```(?:<｜tool▁call▁end｜>|$)", RegexOptions.Singleline)]
    private static partial Regex DeepSeekCall();
}
