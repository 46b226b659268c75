using System.Text.Json;
using static HybridSharp.Data.Tokenizers.Hf.HfJson;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>
/// What HybridSharp reads from <c>tokenizer_config.json</c>: the special tokens it names (string or AddedToken object
/// form, <c>null</c> meaning none), <c>add_bos_token</c> / <c>add_eos_token</c>, and the chat template(s).
/// </summary>
internal sealed record TokenizerConfig(
    IReadOnlyDictionary<string, string> SpecialTokens,
    bool? AddBosToken,
    bool? AddEosToken,
    string? DefaultTemplate,
    IReadOnlyDictionary<string, string> Templates)
{
    private static readonly string[] SpecialKeys = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    public static TokenizerConfig Read(string? json)
    {
        var specials = new Dictionary<string, string>(StringComparer.Ordinal);
        var templates = new Dictionary<string, string>(StringComparer.Ordinal);
        if (json is null) return new TokenizerConfig(specials, null, null, null, templates);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"tokenizer_config.json: not valid JSON ({ex.Message.Split('\n')[0]})", ex);
        }
        using (doc)
        {
            var c = doc.RootElement;
            if (c.ValueKind != JsonValueKind.Object) throw new InvalidDataException("tokenizer_config.json: expected a JSON object");
            foreach (var key in SpecialKeys)
                if (c.TryGetProperty(key, out var el) && TokenText(el) is { } text) specials[key] = text;
            if (c.TryGetProperty("extra_special_tokens", out var extra) && extra.ValueKind == JsonValueKind.Object)
                foreach (var p in extra.EnumerateObject())
                    if (TokenText(p.Value) is { } text) specials.TryAdd(p.Name, text);
            string? defaultTemplate = null;
            if (c.TryGetProperty("chat_template", out var t))
            {
                if (t.ValueKind == JsonValueKind.String) defaultTemplate = t.GetString();
                else if (t.ValueKind == JsonValueKind.Array)
                {
                    foreach (var entry in t.EnumerateArray())
                        if (GetString(entry, "name") is { } name && GetString(entry, "template") is { } body) templates[name] = body;
                    defaultTemplate = templates.GetValueOrDefault("default");
                }
            }
            return new TokenizerConfig(specials, GetBool(c, "add_bos_token"), GetBool(c, "add_eos_token"), defaultTemplate, templates);
        }
    }

    private static string? TokenText(JsonElement el) => el.ValueKind switch
    {
        JsonValueKind.String => el.GetString(),
        JsonValueKind.Object => GetString(el, "content"),
        _ => null,
    };
}
