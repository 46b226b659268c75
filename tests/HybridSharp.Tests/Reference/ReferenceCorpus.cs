using System.Text;

namespace HybridSharp.Tests.Reference;

/// <summary>
/// Text the tokenizer parity tests encode: prose and code (tabs, CRLF, bare CR), many scripts, emoji sequences (ZWJ,
/// VS16, skin tones, flags, keycaps), math alphanumerics and CJK Extension B, combining marks and compatibility forms,
/// long digit runs, odd whitespace, and a seeded random mix of all of these.
/// </summary>
public static class ReferenceCorpus
{
    public static IReadOnlyList<string> Lines(IEnumerable<string> specialTokens)
    {
        var lines = new List<string>
        {
            "",
            "Hello world",
            "The quick brown fox jumps over the lazy dog. It's 5 o'clock; we'll see—maybe.",
            "I'll've DON'T you're WE'D they'RE it's can't won't",
            "  leading and trailing  ",
            "   ",
            "a  b   c    d\t\te",
            "line one\nline two\n\n\nend\n",
            "windows\r\nline\r\n\r\nend",
            "old mac\rline\rend",
            " \n \n\t\n",
            "def f(x):\n\treturn x ** 2  # square\n\nif __name__ == \"__main__\":\n    print(f(3))\n",
            "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\t// dot\r\n",
            "{\"key\": [1, 2.5, -3e10], \"nested\": {\"a\": null, \"b\": true}}",
            "<div class=\"x\">Hello &amp; <b>bold</b></div> https://example.com/a/b?c=d&e=f#g",
            "Français: où est la bibliothèque? Übermäßig große Straße. Tiếng Việt có dấu.",
            "Ελληνικά: Καλημέρα κόσμε. Русский: Привет, мир! Українська: Ґанок.",
            "العربية: مرحبا بالعالم. עברית: שלום עולם.",
            "हिन्दी: नमस्ते दुनिया। বাংলা: হ্যালো বিশ্ব। தமிழ்: வணக்கம் உலகம்.",
            "ภาษาไทย: สวัสดีชาวโลก ქართული: გამარჯობა Հայերեն: Բարեւ አማርኛ: ሰላም ዓለም",
            "中文：你好，世界！繁體中文：你好，世界。日本語：こんにちは世界、カタカナ、漢字。한국어: 안녕하세요 세계",
            "a😀b 😀😀 x😀 😀y",
            "👨‍👩‍👧‍👦 family 👩🏽‍💻 coder 🏳️‍🌈 flag 🇺🇸🇯🇵🇫🇷 flags",
            "❤️ ❤ ☺️ ✔️ 👍🏽 👍🏿👋🏻 1️⃣ #️⃣ *️⃣",
            "math 𝟏𝟐𝟑 𝐀𝐁𝐂 𝑥𝑦𝑧 𝔸𝔹ℂ 𝓗𝓮𝓵𝓵𝓸",
            "CJK Ext B 𠮷野家 𩸽 𪚥 and 𠀀𠀁",
            "ancient 𐌰𐌱𐌲 𓀀𓀁 𐐀𐐨 musical 𝄞𝄢",
            "e\u0301 a\u0300\u0323 Z̴̡̢̛͖a̷l̸g̶o̵ A\u030A Å Å",
            "ﬁ ﬂ ﬃ ＡＢＣ１２３ ² ³ ½ ① Ⅻ ㎏ ™",
            "3.14159265358979323846264338327950288419716939937510",
            "12345678901234567890 1,000,000 0.000001 -42 +7 1e-9 0x1F",
            "٠١٢٣٤٥٦٧٨٩ ०१२३ ๑๒๓",
            "\u00a0non-breaking\u2009thin\u200bzero-width\u3000ideographic\ufeffbom",
            "tabs\tand\u000bvertical\u000cform feed\u0085next line\u2028line sep",
            "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
            "!!! ??? ... --- *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}}",
            "▁ ▁▁ Ġ Ċ <0x0A> <unk> <s> </s>",
        };
        var specials = specialTokens.Where(s => s.Length > 0).Take(6).ToList();
        foreach (var s in specials)
        {
            lines.Add($"before{s}after");
            lines.Add($"  {s} spaced {s}\n{s}{s}");
        }
        lines.AddRange(Random(40, seed: 7, specials));
        return lines;
    }

    /// <summary>Random lines mixing pieces from every group above (seeded, so the corpus is the same every run).</summary>
    private static IEnumerable<string> Random(int count, int seed, List<string> specials)
    {
        string[] atoms =
        [
            " ", "  ", "\n", "\r\n", "\r", "\t", "a", "Z", "hello", "World", "'s", "'ll", "123", "4567", "ü", "é", "e\u0301",
            "ß", "中", "文", "こ", "カ", "한", "ж", "λ", "ع", "ש", "न", "ก", "😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", "𝟏", "𝐀", "𠮷",
            ".", ",", "!", "?", "-", "_", "/", "\\", "\"", "#", "$", "(", ")", "{", "}", "▁", "\u00a0", "\u3000", "ﬁ", "²",
        ];
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var sb = new StringBuilder();
            int n = rng.Next(3, 30);
            for (int k = 0; k < n; k++)
                sb.Append(specials.Count > 0 && rng.Next(20) == 0 ? specials[rng.Next(specials.Count)] : atoms[rng.Next(atoms.Length)]);
            yield return sb.ToString();
        }
    }
}
