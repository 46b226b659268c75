using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Chat;
using HybridSharp.Grammar;

namespace HybridSharp.Server;

/// <summary>
/// Precise reading of OpenAI request bodies: JSON null counts as absent; a field the server does not implement, text that
/// is not valid Unicode, and every wrong type or value become a 400 naming the field.
/// </summary>
internal static class RequestReader
{
    public static JsonElement ParseObject(byte[] body)
    {
        if (body.Length == 0) throw ApiException.BadRequest("the request body is empty; expected a JSON object");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body); }
        catch (JsonException ex) { throw ApiException.BadRequest($"invalid JSON in the request body: {ex.Message}"); }
        var root = doc.RootElement.Clone();
        doc.Dispose();
        if (root.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("the request body must be a JSON object");
        CheckText(root, "");
        return root;
    }

    /// <summary>
    /// Every string and property name must be valid text: invalid UTF-8 bytes and escaped lone surrogates
    /// (<c>"\ud83d"</c>) are refused here, before anything reads them.
    /// </summary>
    private static void CheckText(JsonElement e, string path)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                try { e.GetString(); }
                catch (InvalidOperationException) { throw BadText(path); }
                break;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    string name;
                    try { name = p.Name; }
                    catch (InvalidOperationException) { throw BadText(path.Length == 0 ? "a field name" : $"{path}: a field name"); }
                    CheckText(p.Value, path.Length == 0 ? name : $"{path}.{name}");
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in e.EnumerateArray()) CheckText(item, $"{path}[{i++}]");
                break;
        }
    }

    private static ApiException BadText(string path) =>
        ApiException.BadRequest($"'{path}' is not valid Unicode text (invalid UTF-8 or a lone surrogate)", path.Length == 0 ? null : path);

    /// <summary>Refuses any field outside <paramref name="known"/>: a field that would be ignored is a 400 naming it.</summary>
    public static void OnlyKnownFields(JsonElement root, IReadOnlySet<string> known, string endpoint)
    {
        foreach (var p in root.EnumerateObject())
            if (!known.Contains(p.Name) && p.Value.ValueKind != JsonValueKind.Null)
                throw ApiException.BadRequest($"'{p.Name}' is not supported by {endpoint} on this server", p.Name, "unsupported_parameter");
    }

    private static JsonElement? Field(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static string? String(JsonElement root, string name)
    {
        if (Field(root, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.String) throw ApiException.BadRequest($"'{name}' must be a string", name);
        return v.GetString();
    }

    public static bool Bool(JsonElement root, string name, bool fallback = false)
    {
        if (Field(root, name) is not { } v) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.BadRequest($"'{name}' must be a boolean", name),
        };
    }

    public static double? Number(JsonElement root, string name, double min, double max)
    {
        if (Field(root, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var d)) throw ApiException.BadRequest($"'{name}' must be a number", name);
        if (d < min || d > max) throw ApiException.BadRequest($"'{name}' must be between {min} and {max}, got {d}", name);
        return d;
    }

    public static long? Integer(JsonElement root, string name)
    {
        if (Field(root, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var i)) throw ApiException.BadRequest($"'{name}' must be an integer", name);
        return i;
    }

    /// <summary><c>stop</c>: a string or an array of up to 4 strings.</summary>
    public static IReadOnlyList<string> Stop(JsonElement root)
    {
        if (Field(root, "stop") is not { } v) return [];
        if (v.ValueKind == JsonValueKind.String) return v.GetString() is { Length: > 0 } s ? [s] : [];
        if (v.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("'stop' must be a string or an array of strings", "stop");
        var stops = new List<string>();
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw ApiException.BadRequest("'stop' must be a string or an array of strings", "stop");
            if (e.GetString() is { Length: > 0 } s) stops.Add(s);
        }
        if (stops.Count > 4) throw ApiException.BadRequest("'stop' takes at most 4 strings", "stop");
        return stops;
    }

    /// <summary>
    /// <c>messages</c>: a non-empty array of {role, content}; content is a string or an array of {type:"text", text}
    /// parts. "developer" renders as system. Assistant turns may carry <c>reasoning_content</c> and <c>tool_calls</c>
    /// (then <c>content</c> may be null); tool results carry <c>tool_call_id</c> and <c>name</c>. All of it reaches the
    /// chat template.
    /// </summary>
    public static List<ChatMessage> Messages(JsonElement root)
    {
        if (Field(root, "messages") is not { } v) throw ApiException.BadRequest("'messages' is required", "messages");
        if (v.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("'messages' must be an array", "messages");
        var messages = new List<ChatMessage>();
        int i = 0;
        foreach (var m in v.EnumerateArray())
        {
            string param = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"'{param}' must be an object", param);
            var role = String(m, "role") ?? throw ApiException.BadRequest($"'{param}.role' is required", $"{param}.role");
            role = role switch
            {
                "system" or "developer" => ChatMessage.System,
                "user" => ChatMessage.User,
                "assistant" => ChatMessage.Assistant,
                "tool" => ChatMessage.Tool,
                _ => throw ApiException.BadRequest($"'{param}.role' must be system, developer, user, assistant or tool; got '{role}'", $"{param}.role"),
            };
            var toolCalls = role == ChatMessage.Assistant ? ToolCalls(m, $"{param}.tool_calls") : null;
            messages.Add(new ChatMessage(role, Content(m, $"{param}.content", required: role != ChatMessage.Assistant || toolCalls is null))
            {
                ReasoningContent = role == ChatMessage.Assistant ? String(m, "reasoning_content") : null,
                ToolCalls = toolCalls,
                ToolCallId = role == ChatMessage.Tool ? String(m, "tool_call_id") : null,
                Name = String(m, "name"),
            });
        }
        if (messages.Count == 0) throw ApiException.BadRequest("'messages' must contain at least one message", "messages");
        return messages;
    }

    /// <summary>An assistant message's <c>tool_calls</c>: objects with <c>function.name</c> and <c>function.arguments</c> (JSON text or an object).</summary>
    private static JsonArray? ToolCalls(JsonElement message, string param)
    {
        if (Field(message, "tool_calls") is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest($"'{param}' must be an array", param);
        int i = 0;
        foreach (var call in v.EnumerateArray())
        {
            string p = $"{param}[{i++}]";
            if (call.ValueKind != JsonValueKind.Object || Field(call, "function") is not { ValueKind: JsonValueKind.Object } f)
                throw ApiException.BadRequest($"'{p}' must be an object with a 'function' object", p);
            if (String(f, "name") is null) throw ApiException.BadRequest($"'{p}.function.name' is required", $"{p}.function.name");
            if (Field(f, "arguments") is { } a && a.ValueKind is not (JsonValueKind.String or JsonValueKind.Object))
                throw ApiException.BadRequest($"'{p}.function.arguments' must be a JSON string or an object", $"{p}.function.arguments");
        }
        return (JsonArray)JsonNode.Parse(v.GetRawText())!;
    }

    /// <summary>Marks <c>tool_choice: "required"</c> in <see cref="ToolChoice"/>'s answer.</summary>
    public const string AnyTool = "\u0001required";

    /// <summary>
    /// <c>tools</c> and <c>tool_choice</c>: the tools the model is offered (null for none, or with "none") and the call
    /// it is forced to make — null ("auto": it may answer or call), <see cref="AnyTool"/> ("required"), or a function's
    /// name (<c>{"type": "function", "function": {"name": …}}</c>).
    /// </summary>
    public static (JsonArray? Tools, string? Forced) ToolChoice(JsonElement root)
    {
        var tools = Tools(root);
        if (Field(root, "tool_choice") is not { } choice) return (tools, null);
        string? forced = choice.ValueKind switch
        {
            JsonValueKind.String => choice.GetString() switch
            {
                "auto" => null,
                "none" => "none",
                "required" => AnyTool,
                var other => throw ApiException.BadRequest($"tool_choice must be auto, none, required or a function, got '{other}'", "tool_choice"),
            },
            JsonValueKind.Object when Field(choice, "function") is { ValueKind: JsonValueKind.Object } f && String(f, "name") is { } name => name,
            _ => throw ApiException.BadRequest("tool_choice must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": …}}", "tool_choice"),
        };
        if (forced == "none") return (null, null); // the model is not offered the tools at all
        if (forced is not null && tools is null) throw ApiException.BadRequest("tool_choice asks for a tool call, but no tools are given", "tool_choice");
        return (tools, forced);
    }

    /// <summary>
    /// <c>response_format</c>: "text" (null), "json_object" (any JSON object) or "json_schema" (the schema's grammar);
    /// a schema keyword outside the supported subset is a 400 naming it.
    /// </summary>
    public static GrammarNode? ResponseFormat(JsonElement root)
    {
        if (Field(root, "response_format") is not { } format) return null;
        if (format.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("'response_format' must be an object", "response_format");
        switch (String(format, "type"))
        {
            case "text":
                return null;
            case "json_object":
                return new AnyObjectNode();
            case "json_schema":
                if (Field(format, "json_schema") is not { ValueKind: JsonValueKind.Object } spec || Field(spec, "schema") is not { } schema)
                    throw ApiException.BadRequest("response_format json_schema needs 'json_schema': {\"name\", \"schema\"}", "response_format");
                try
                {
                    return JsonSchemaGrammar.Compile(schema);
                }
                catch (ArgumentException ex)
                {
                    throw ApiException.BadRequest($"response_format: {ex.Message}", "response_format", "unsupported_schema");
                }
            case var other:
                throw ApiException.BadRequest($"response_format type must be text, json_object or json_schema, got '{other}'", "response_format");
        }
    }

    /// <summary><c>tools</c>: an array of {type: "function", function: {name, description?, parameters?}}; null when absent or empty.</summary>
    public static JsonArray? Tools(JsonElement root)
    {
        if (Field(root, "tools") is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("'tools' must be an array", "tools");
        int i = 0;
        foreach (var tool in v.EnumerateArray())
        {
            string p = $"tools[{i++}]";
            if (tool.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"'{p}' must be an object", p);
            if (String(tool, "type") is { } type && type != "function")
                throw ApiException.BadRequest($"'{p}.type' must be 'function', got '{type}'", $"{p}.type");
            if (Field(tool, "function") is not { ValueKind: JsonValueKind.Object } f || String(f, "name") is null)
                throw ApiException.BadRequest($"'{p}.function.name' is required", $"{p}.function.name");
        }
        return v.GetArrayLength() == 0 ? null : (JsonArray)JsonNode.Parse(v.GetRawText())!;
    }

    /// <summary><c>chat_template_kwargs</c>: extra template variables (vLLM's field), e.g. <c>{"enable_thinking": false}</c>.</summary>
    public static JsonObject? TemplateKwargs(JsonElement root)
    {
        if (Field(root, "chat_template_kwargs") is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("'chat_template_kwargs' must be an object", "chat_template_kwargs");
        return (JsonObject)JsonNode.Parse(v.GetRawText())!;
    }

    private static string? Content(JsonElement message, string param, bool required)
    {
        if (Field(message, "content") is not { } c)
            return required ? throw ApiException.BadRequest($"'{param}' is required", param) : null;
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest($"'{param}' must be a string or an array of text parts", param);
        var text = new System.Text.StringBuilder();
        foreach (var part in c.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || String(part, "type") is not { } type)
                throw ApiException.BadRequest($"'{param}' parts must be objects with a 'type'", param);
            if (type != "text") throw ApiException.BadRequest($"'{param}': content parts of type '{type}' are not supported (text only)", param);
            text.Append(String(part, "text") ?? throw ApiException.BadRequest($"'{param}': a text part needs 'text'", param));
        }
        return text.ToString();
    }

    /// <summary>
    /// <c>input</c> of /v1/embeddings as token ids: a string, a list of strings (each encoded with the tokenizer's special
    /// tokens), a list of token ids, or a list of such lists.
    /// </summary>
    public static List<int[]> EmbeddingInputs(JsonElement root, HybridSharp.Data.ITokenizer tokenizer)
    {
        if (Field(root, "input") is not { } v) throw ApiException.BadRequest("'input' is required", "input");
        const string shape = "'input' must be a string, a list of strings, a list of token ids or a list of such lists";
        int[] Ids(JsonElement list) => [.. list.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var id) ? id : throw ApiException.BadRequest(shape, "input"))];
        var inputs = new List<int[]>();
        if (v.ValueKind == JsonValueKind.String) inputs.Add(tokenizer.Encode(v.GetString()!, addSpecialTokens: true));
        else if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number)) inputs.Add(Ids(v));
        else if (v.ValueKind == JsonValueKind.Array)
            foreach (var item in v.EnumerateArray())
                inputs.Add(item.ValueKind switch
                {
                    JsonValueKind.String => tokenizer.Encode(item.GetString()!, addSpecialTokens: true),
                    JsonValueKind.Array => Ids(item),
                    _ => throw ApiException.BadRequest(shape, "input"),
                });
        else throw ApiException.BadRequest(shape, "input");
        if (inputs.Count == 0 || inputs.Any(i => i.Length == 0)) throw ApiException.BadRequest("'input' must not be empty", "input");
        return inputs;
    }

    /// <summary>
    /// <c>input</c> (and <c>instructions</c>) of /v1/responses as chat messages: a string is one user message; a list
    /// holds message items <c>{"role", "content"}</c> whose content is a string or <c>input_text</c> / <c>output_text</c>
    /// parts. Other item types (function calls, images, files) are refused naming them.
    /// </summary>
    public static List<ChatMessage> ResponseInput(JsonElement root)
    {
        var messages = new List<ChatMessage>();
        if (String(root, "instructions") is { } instructions) messages.Add(ChatMessage.FromSystem(instructions));
        if (Field(root, "input") is not { } input) throw ApiException.BadRequest("'input' is required", "input");
        if (input.ValueKind == JsonValueKind.String) { messages.Add(ChatMessage.FromUser(input.GetString()!)); return messages; }
        if (input.ValueKind != JsonValueKind.Array || input.GetArrayLength() == 0) throw ApiException.BadRequest("'input' must be a string or a non-empty list of messages", "input");
        int i = 0;
        foreach (var item in input.EnumerateArray())
        {
            string param = $"input[{i++}]";
            if (item.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"'{param}' must be an object", param);
            if (String(item, "type") is { } type && type != "message")
                throw ApiException.BadRequest($"'{param}': items of type '{type}' are not supported (messages only)", param, "unsupported_parameter");
            var role = String(item, "role") switch
            {
                "system" or "developer" => ChatMessage.System,
                "user" => ChatMessage.User,
                "assistant" => ChatMessage.Assistant,
                var other => throw ApiException.BadRequest($"'{param}.role' must be system, developer, user or assistant; got '{other}'", $"{param}.role"),
            };
            if (Field(item, "content") is not { } content) throw ApiException.BadRequest($"'{param}.content' is required", $"{param}.content");
            string text;
            if (content.ValueKind == JsonValueKind.String) text = content.GetString()!;
            else if (content.ValueKind == JsonValueKind.Array)
            {
                var sb = new System.Text.StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object || String(part, "type") is not ("input_text" or "output_text"))
                        throw ApiException.BadRequest($"'{param}.content': only input_text and output_text parts are supported", $"{param}.content", "unsupported_parameter");
                    sb.Append(String(part, "text") ?? throw ApiException.BadRequest($"'{param}.content': a text part needs 'text'", $"{param}.content"));
                }
                text = sb.ToString();
            }
            else throw ApiException.BadRequest($"'{param}.content' must be a string or a list of text parts", $"{param}.content");
            messages.Add(new ChatMessage(role, text));
        }
        return messages;
    }

    /// <summary><c>prompt</c> of /v1/completions: a string or an array holding one string.</summary>
    public static string Prompt(JsonElement root)
    {
        if (Field(root, "prompt") is not { } v) throw ApiException.BadRequest("'prompt' is required", "prompt");
        if (v.ValueKind == JsonValueKind.String) return v.GetString()!;
        if (v.ValueKind == JsonValueKind.Array)
        {
            var items = v.EnumerateArray().ToList();
            if (items.Count == 1 && items[0].ValueKind == JsonValueKind.String) return items[0].GetString()!;
            if (items.Count > 1 && items.All(e => e.ValueKind == JsonValueKind.String))
                throw ApiException.BadRequest("one prompt per request is supported", "prompt");
        }
        throw ApiException.BadRequest("'prompt' must be a string or an array with one string", "prompt");
    }
}
