using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace HybridSharp.Grammar;

/// <summary>
/// Compiles a JSON schema into a <see cref="GrammarNode"/>: the subset OpenAI's structured outputs accept — <c>type</c>
/// (one or a list), <c>properties</c> with <c>required</c> (written in schema order; <c>additionalProperties</c> may
/// be false or true, no others are written), <c>items</c>, <c>minItems</c>, <c>maxItems</c>, <c>enum</c>,
/// <c>const</c>, <c>anyOf</c>, <c>minimum</c> / <c>maximum</c> / <c>exclusiveMinimum</c> / <c>exclusiveMaximum</c>,
/// <c>$defs</c> / <c>definitions</c> with local <c>$ref</c>s (recursion allowed).
/// Annotations (<c>description</c>, <c>title</c>, <c>default</c>, <c>examples</c>, <c>$schema</c>, <c>$id</c>,
/// <c>strict</c>) are ignored. Any other keyword is refused, naming it and where it is, never silently dropped.
/// </summary>
public static class JsonSchemaGrammar
{
    private static readonly HashSet<string> Annotations = ["description", "title", "default", "examples", "$schema", "$id", "$comment", "strict"];
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <exception cref="ArgumentException">An unsupported keyword or a malformed schema (the message names the path).</exception>
    public static GrammarNode Compile(JsonElement schema)
    {
        var root = schema.Clone();
        var cache = new Dictionary<string, GrammarNode>(StringComparer.Ordinal);
        JsonElement Locate(string reference, string path)
        {
            if (!reference.StartsWith('#')) throw new ArgumentException($"{path}: only local $ref values (#/...) are supported, got '{reference}'");
            var target = root;
            foreach (var part in reference[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var name = part.Replace("~1", "/").Replace("~0", "~");
                if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(name, out target))
                    throw new ArgumentException($"{path}: $ref '{reference}' points nowhere in the schema");
            }
            return target;
        }

        GrammarNode Node(JsonElement s, string path)
        {
            if (s.ValueKind == JsonValueKind.True) return GrammarNode.Any;
            if (s.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{path}: a schema must be an object");
            foreach (var p in s.EnumerateObject())
                if (!Known.Contains(p.Name) && !Annotations.Contains(p.Name))
                    throw new ArgumentException($"{path}: the JSON schema keyword '{p.Name}' is not supported");
            if (s.TryGetProperty("$ref", out var r))
            {
                var reference = r.GetString() ?? throw new ArgumentException($"{path}: $ref must be a string");
                // Compiled once, eagerly (errors surface now); a reference met again while compiling stays lazy (recursion).
                if (!cache.ContainsKey(reference))
                {
                    cache[reference] = GrammarNode.Any; // placeholder while the target compiles
                    cache[reference] = Node(Locate(reference, path), reference);
                }
                return new RefNode(reference, () => cache[reference]);
            }
            if (s.TryGetProperty("const", out var c)) return new LiteralNode([Json(c)]);
            if (s.TryGetProperty("enum", out var e))
            {
                if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0) throw new ArgumentException($"{path}: enum must be a non-empty list");
                return new LiteralNode([.. e.EnumerateArray().Select(Json)]);
            }
            if (s.TryGetProperty("anyOf", out var any))
            {
                if (any.ValueKind != JsonValueKind.Array || any.GetArrayLength() == 0) throw new ArgumentException($"{path}: anyOf must be a non-empty list");
                return new AnyOfNode([.. any.EnumerateArray().Select((a, i) => Node(a, $"{path}/anyOf/{i}"))]);
            }
            if (!s.TryGetProperty("type", out var type)) return s.TryGetProperty("properties", out _) ? Typed("object", s, path) : GrammarNode.Any;
            if (type.ValueKind == JsonValueKind.String) return Typed(type.GetString()!, s, path);
            if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0)
                return new AnyOfNode([.. type.EnumerateArray().Select(t => Typed(t.GetString() ?? "", s, path))]);
            throw new ArgumentException($"{path}: type must be a string or a list of strings");
        }

        GrammarNode Typed(string type, JsonElement s, string path) => type switch
        {
            "object" => ObjectOf(s, path),
            "array" => new ArrayNode(s.TryGetProperty("items", out var items) ? Node(items, $"{path}/items") : GrammarNode.Any,
                Count(s, "minItems", path) ?? 0, Count(s, "maxItems", path)),
            "string" => new StringNode(),
            "number" => new NumberNode(false, Bounds(s, path)),
            "integer" => new NumberNode(true, Bounds(s, path)),
            "boolean" => new LiteralNode(["true"u8.ToArray(), "false"u8.ToArray()]),
            "null" => new LiteralNode(["null"u8.ToArray()]),
            _ => throw new ArgumentException($"{path}: unknown type '{type}'"),
        };

        GrammarNode ObjectOf(JsonElement s, string path)
        {
            if (s.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind is not (JsonValueKind.False or JsonValueKind.True))
                throw new ArgumentException($"{path}: additionalProperties must be true or false (a schema for extra properties is not supported)");
            if (!s.TryGetProperty("properties", out var props))
                return extra.ValueKind == JsonValueKind.False ? new ObjectNode([]) : new AnyObjectNode();
            var required = s.TryGetProperty("required", out var req)
                ? req.EnumerateArray().Select(x => x.GetString() ?? throw new ArgumentException($"{path}: required must list property names")).ToHashSet()
                : [];
            var list = props.EnumerateObject().Select(p => new PropertyNode(p.Name, Json(JsonSerializer.SerializeToElement(p.Name)),
                Node(p.Value, $"{path}/properties/{p.Name}"), required.Contains(p.Name))).ToList();
            foreach (var name in required)
                if (list.All(p => p.Name != name)) throw new ArgumentException($"{path}: required property '{name}' is not in properties");
            return new ObjectNode(list);
        }

        return Node(root, "#");
    }

    private static readonly HashSet<string> Known =
    [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const", "anyOf", "$defs", "definitions", "$ref",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    ];

    /// <summary><c>minimum</c>, <c>maximum</c>, <c>exclusiveMinimum</c>, <c>exclusiveMaximum</c> (draft 2020 numbers); null when none.</summary>
    private static NumberBounds? Bounds(JsonElement s, string path)
    {
        decimal? Read(string name)
        {
            if (!s.TryGetProperty(name, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDecimal(out var d)) throw new ArgumentException($"{path}: {name} must be a number");
            return d;
        }
        decimal? min = Read("minimum"), max = Read("maximum"), xmin = Read("exclusiveMinimum"), xmax = Read("exclusiveMaximum");
        if (min is null && max is null && xmin is null && xmax is null) return null;
        // The tighter of an inclusive and an exclusive bound on each side.
        bool exclusiveLow = xmin is { } a && (min is not { } b || a >= b);
        bool exclusiveHigh = xmax is { } c && (max is not { } d2 || c <= d2);
        var bounds = new NumberBounds(exclusiveLow ? xmin : min, exclusiveHigh ? xmax : max, exclusiveLow, exclusiveHigh);
        if (bounds.Minimum is { } lo && bounds.Maximum is { } hi && (lo > hi || (lo == hi && (exclusiveLow || exclusiveHigh))))
            throw new ArgumentException($"{path}: no number satisfies these minimum / maximum bounds");
        return bounds;
    }

    private static int? Count(JsonElement s, string name, string path) =>
        s.TryGetProperty(name, out var v) ? v.TryGetInt32(out var n) && n >= 0 ? n : throw new ArgumentException($"{path}: {name} must be a non-negative integer") : null;

    /// <summary>A JSON value as compact UTF-8 text (non-ASCII kept as is).</summary>
    private static byte[] Json(JsonElement value) => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(value, Compact));
}
