using System.Globalization;
using System.Text;
using System.Text.Json;
using static HybridSharp.Data.Tokenizers.Hf.HfJson;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>
/// A tokenizer.json normaliser: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend and Sequence of
/// these. It rewrites one segment of text (the text between added tokens) before pre-tokenisation.
/// </summary>
internal abstract class HfNormalizer
{
    public abstract string Normalize(string text);

    /// <summary>Reads the <c>normalizer</c> element; null for JSON null.</summary>
    public static HfNormalizer? Read(JsonElement el)
    {
        if (el.ValueKind == JsonValueKind.Null) return null;
        var type = Type(el, "normalizer");
        return type switch
        {
            "NFC" => new Form(NormalizationForm.FormC),
            "NFD" => new Form(NormalizationForm.FormD),
            "NFKC" => new Form(NormalizationForm.FormKC),
            "NFKD" => new Form(NormalizationForm.FormKD),
            "Lowercase" => new Lowercase(),
            "Strip" => new Strip(GetBool(el, "strip_left") ?? true, GetBool(el, "strip_right") ?? true),
            "StripAccents" => new StripAccents(),
            "Replace" => new Replace(Pattern(el, "Replace normalizer"), GetString(el, "content") ?? ""),
            "Prepend" => new Prepend(GetString(el, "prepend") ?? throw new InvalidDataException("Prepend normalizer without \"prepend\"")),
            "Sequence" => new Sequence(List(el, "normalizers").Select(Read).OfType<HfNormalizer>().ToArray()),
            _ => throw new ArgumentException(
                $"normalizer '{type}' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, Sequence)"),
        };
    }

    private sealed class Form(NormalizationForm form) : HfNormalizer
    {
        public override string Normalize(string text) => text.IsNormalized(form) ? text : text.Normalize(form);
    }

    private sealed class Lowercase : HfNormalizer
    {
        public override string Normalize(string text) => text.ToLowerInvariant();
    }

    private sealed class Strip(bool left, bool right) : HfNormalizer
    {
        public override string Normalize(string text) => (left, right) switch
        {
            (true, true) => text.Trim(),
            (true, false) => text.TrimStart(),
            (false, true) => text.TrimEnd(),
            _ => text,
        };
    }

    private sealed class StripAccents : HfNormalizer
    {
        public override string Normalize(string text)
        {
            var sb = new StringBuilder(text.Length);
            foreach (var r in text.EnumerateRunes())
                if (Rune.GetUnicodeCategory(r) != UnicodeCategory.NonSpacingMark) sb.Append(r.ToString());
            return sb.ToString();
        }
    }

    private sealed class Replace(CodePointRegex? pattern, string content) : HfNormalizer
    {
        public override string Normalize(string text)
        {
            if (pattern is null) return text;
            var matches = pattern.Matches(text);
            if (matches.Count == 0) return text;
            var sb = new StringBuilder(text.Length);
            int pos = 0;
            foreach (var (start, length) in matches)
            {
                sb.Append(text, pos, start - pos).Append(content);
                pos = start + length;
            }
            return sb.Append(text, pos, text.Length - pos).ToString();
        }
    }

    private sealed class Prepend(string prefix) : HfNormalizer
    {
        public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
    }

    private sealed class Sequence(HfNormalizer[] steps) : HfNormalizer
    {
        public override string Normalize(string text)
        {
            foreach (var s in steps) text = s.Normalize(text);
            return text;
        }
    }
}
