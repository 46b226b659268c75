using System.Text.Json;
using static HybridSharp.Data.Tokenizers.Hf.HfJson;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>
/// The special tokens a tokenizer.json <c>post_processor</c> puts around one sequence (HF's
/// <c>add_special_tokens=True</c>): TemplateProcessing (its <c>single</c> template), BertProcessing,
/// RobertaProcessing, ByteLevel (no tokens) and Sequence of these.
/// </summary>
internal sealed record HfPostProcessor(int[] Prefix, int[] Suffix)
{
    public static HfPostProcessor None { get; } = new([], []);

    /// <summary>Reads the <c>post_processor</c> element (null or absent: no tokens).</summary>
    public static HfPostProcessor Read(JsonElement el)
    {
        if (el.ValueKind == JsonValueKind.Null) return None;
        var type = Type(el, "post_processor");
        switch (type)
        {
            case "ByteLevel":
                return None;
            case "Sequence":
                var prefix = new List<int>();
                var suffix = new List<int>();
                foreach (var p in List(el, "processors").Select(Read))
                {
                    prefix.AddRange(p.Prefix);
                    suffix.InsertRange(0, p.Suffix);
                }
                return new HfPostProcessor([.. prefix], [.. suffix]);
            case "TemplateProcessing":
                return ReadTemplate(el);
            case "BertProcessing":
                return new HfPostProcessor([PairId(el, "cls")], [PairId(el, "sep")]);
            case "RobertaProcessing":
                return new HfPostProcessor([PairId(el, "cls")], [PairId(el, "sep")]);
            default:
                throw new ArgumentException(
                    $"post-processor '{type}' is not supported (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)");
        }
    }

    private static int PairId(JsonElement el, string key)
    {
        if (el.TryGetProperty(key, out var pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2 && pair[1].TryGetInt32(out var id))
            return id;
        throw new InvalidDataException($"post_processor: \"{key}\" is not a [token, id] pair");
    }

    private static HfPostProcessor ReadTemplate(JsonElement el)
    {
        var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (el.TryGetProperty("special_tokens", out var st) && st.ValueKind == JsonValueKind.Object)
            foreach (var p in st.EnumerateObject())
                specials[p.Name] = List(p.Value, "ids").Select(i => i.GetInt32()).ToArray();
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool seenSequence = false;
        foreach (var item in List(el, "single"))
        {
            if (item.TryGetProperty("Sequence", out _))
            {
                if (seenSequence) throw new ArgumentException("post_processor: a single-sequence template with the sequence twice is not supported");
                seenSequence = true;
            }
            else if (item.TryGetProperty("SpecialToken", out var special))
            {
                var name = GetString(special, "id") ?? throw new InvalidDataException("post_processor: SpecialToken without an id");
                if (!specials.TryGetValue(name, out var ids)) throw new InvalidDataException($"post_processor: special token '{name}' is not in special_tokens");
                (seenSequence ? suffix : prefix).AddRange(ids);
            }
            else throw new InvalidDataException($"post_processor: template item {item.GetRawText()} is neither Sequence nor SpecialToken");
        }
        return new HfPostProcessor([.. prefix], [.. suffix]);
    }
}
