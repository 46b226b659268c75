using System.Text.Json;
using System.Text.RegularExpressions;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>Small readers for the JSON of tokenizer.json components.</summary>
internal static class HfJson
{
    public static string? GetString(JsonElement el, string key) =>
        el.ValueKind == JsonValueKind.Object && el.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static bool? GetBool(JsonElement el, string key) =>
        el.ValueKind == JsonValueKind.Object && el.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean()
            : null;

    public static int? GetInt(JsonElement el, string key) =>
        el.ValueKind == JsonValueKind.Object && el.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    /// <summary>The component's <c>type</c>, or a clear error naming <paramref name="what"/>.</summary>
    public static string Type(JsonElement el, string what) =>
        GetString(el, "type") ?? throw new InvalidDataException($"{what} without a \"type\"");

    /// <summary>The list under <paramref name="key"/> (an empty list when absent).</summary>
    public static IEnumerable<JsonElement> List(JsonElement el, string key) =>
        el.ValueKind == JsonValueKind.Object && el.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().ToList() : [];

    /// <summary>
    /// A <c>{"String": s}</c> or <c>{"Regex": r}</c> pattern as a code-point regex (a string pattern is matched
    /// literally), or null for the empty string pattern, which matches nothing.
    /// </summary>
    public static CodePointRegex? Pattern(JsonElement el, string what)
    {
        if (el.ValueKind != JsonValueKind.Object || !el.TryGetProperty("pattern", out var p))
            throw new InvalidDataException($"{what} without a pattern");
        string pattern;
        if (GetString(p, "Regex") is { } rx) pattern = rx;
        else if (GetString(p, "String") is { } s)
        {
            if (s.Length == 0) return null;
            pattern = Regex.Escape(s);
        }
        else throw new InvalidDataException($"{what}: pattern is neither {{\"String\": …}} nor {{\"Regex\": …}}");
        try
        {
            return new CodePointRegex(pattern);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"{what}: regex is not valid for .NET ({ex.Message}): {pattern}", ex);
        }
    }

    /// <summary>A single-character setting such as Metaspace's <c>replacement</c>.</summary>
    public static string Char(JsonElement el, string key, string fallback, string what)
    {
        var s = GetString(el, key) ?? fallback;
        if (s.Length == 0) throw new InvalidDataException($"{what}: {key} is empty");
        return s;
    }
}
