using System.Text;
using System.Text.Json;
using static HybridSharp.Data.Tokenizers.Hf.HfJson;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>
/// A tokenizer.json decoder: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, BPEDecoder and Sequence. Each
/// rewrites the list of token strings; the decoded text is their concatenation.
/// </summary>
internal abstract class HfDecoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    public string Decode(List<string> tokens) => string.Concat(DecodeChain(tokens));

    /// <summary>Reads the <c>decoder</c> element; null for JSON null.</summary>
    public static HfDecoder? Read(JsonElement el)
    {
        if (el.ValueKind == JsonValueKind.Null) return null;
        var type = Type(el, "decoder");
        return type switch
        {
            "ByteLevel" => new ByteLevel(),
            "ByteFallback" => new ByteFallback(),
            "Fuse" => new Fuse(),
            "Strip" => new Strip(Char(el, "content", " ", "Strip decoder"), GetInt(el, "start") ?? 0, GetInt(el, "stop") ?? 0),
            "Replace" => new Replace(Pattern(el, "Replace decoder"), GetString(el, "content") ?? ""),
            "Metaspace" => new Metaspace(Char(el, "replacement", "\u2581", "Metaspace decoder"),
                GetString(el, "prepend_scheme") ?? ((GetBool(el, "add_prefix_space") ?? true) ? "always" : "never")),
            "BPEDecoder" => new BpeSuffix(GetString(el, "suffix") ?? "</w>"),
            "Sequence" => new Sequence(List(el, "decoders").Select(Read).OfType<HfDecoder>().ToArray()),
            _ => throw new ArgumentException(
                $"decoder '{type}' is not supported (supported: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, BPEDecoder, Sequence)"),
        };
    }

    /// <summary>The bytes a byte-level token stands for; a token with a character outside the alphabet stands for its own UTF-8.</summary>
    public static byte[] ByteLevelBytes(string token)
    {
        foreach (var c in token)
            if (ByteLevelMap.ToByte(c) < 0) return Encoding.UTF8.GetBytes(token);
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++) bytes[i] = (byte)ByteLevelMap.ToByte(token[i]);
        return bytes;
    }

    /// <summary>The byte of a <c>&lt;0xNN&gt;</c> token, or -1.</summary>
    public static int FallbackByte(string token) =>
        token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
        && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b) ? b : -1;

    /// <summary>Bytes as UTF-8 text the way Rust's <c>from_utf8_lossy</c> does it (each invalid sequence → U+FFFD).</summary>
    public static string Lossy(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    private sealed class ByteLevel : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            var bytes = new List<byte>();
            foreach (var t in tokens) bytes.AddRange(ByteLevelBytes(t));
            return [Lossy([.. bytes])];
        }
    }

    private sealed class ByteFallback : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            var result = new List<string>(tokens.Count);
            var pending = new List<byte>();
            void Flush()
            {
                if (pending.Count == 0) return;
                var bytes = pending.ToArray();
                pending.Clear();
                try
                {
                    result.Add(new UTF8Encoding(false, true).GetString(bytes));
                }
                catch (DecoderFallbackException)
                {
                    for (int i = 0; i < bytes.Length; i++) result.Add("\uFFFD");
                }
            }
            foreach (var t in tokens)
            {
                int b = FallbackByte(t);
                if (b >= 0) pending.Add((byte)b);
                else
                {
                    Flush();
                    result.Add(t);
                }
            }
            Flush();
            return result;
        }
    }

    private sealed class Fuse : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
    }

    private sealed class Strip(string content, int start, int stop) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t =>
        {
            var runes = t.EnumerateRunes().ToList();
            int from = 0, to = runes.Count;
            for (int i = 0; i < start && i < runes.Count && runes[i].ToString() == content; i++) from = i + 1;
            for (int i = 0; i < stop && runes.Count - 1 - i >= from && runes[runes.Count - 1 - i].ToString() == content; i++) to = runes.Count - 1 - i;
            return string.Concat(runes.Skip(from).Take(to - from).Select(r => r.ToString()));
        }).ToList();
    }

    private sealed class Replace(CodePointRegex? pattern, string content) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t =>
        {
            if (pattern is null) return t;
            var sb = new StringBuilder(t.Length);
            int pos = 0;
            foreach (var (s, l) in pattern.Matches(t))
            {
                sb.Append(t, pos, s - pos).Append(content);
                pos = s + l;
            }
            return sb.Append(t, pos, t.Length - pos).ToString();
        }).ToList();
    }

    private sealed class Metaspace(string replacement, string prependScheme) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => tokens.Select((t, i) =>
        {
            var s = t.Replace(replacement, " ", StringComparison.Ordinal);
            if (i == 0 && prependScheme != "never" && s.StartsWith(' ')) s = s[1..];
            return s;
        }).ToList();
    }

    private sealed class BpeSuffix(string suffix) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens) => tokens.Select((t, i) =>
            t.Replace(suffix, i == tokens.Count - 1 ? "" : " ", StringComparison.Ordinal)).ToList();
    }

    private sealed class Sequence(HfDecoder[] steps) : HfDecoder
    {
        public override List<string> DecodeChain(List<string> tokens)
        {
            foreach (var s in steps) tokens = s.DecodeChain(tokens);
            return tokens;
        }
    }
}
