using System.Text.Json;
using System.Text.Json.Nodes;

namespace HybridSharp.Tests.Tokenizers;

/// <summary>
/// A tiny byte-level BPE <c>tokenizer.json</c> built in code: the 256 GPT-2 byte symbols (ids 0..255 in GPT-2
/// order, so 'a' = 64), a handful of merges (ids 256..264), a vocabulary-only token "Ġxyz" (265) and added tokens
/// &lt;|endoftext|&gt; 266, &lt;|im_start|&gt; 267, &lt;|im_end|&gt; 268 (special) and &lt;think&gt; 269 (not special).
/// Hugging Face tokenizers renumbers added tokens to follow the vocabulary, so real files have no id gap there.
/// The byte alphabet is computed here independently of the library code under test.
/// </summary>
internal static class BpeFixture
{
    public const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const int EndOfText = 266, ImStart = 267, ImEnd = 268, Think = 269, VocabSize = 270;
    public const int SpaceT = 256, He = 257, SpaceThe = 258, In = 259, TwoSpaces = 260, HashHash = 261, ZhongPrefix = 262, Zhong = 263, TwoNewlines = 264, SpaceXyz = 265;

    /// <summary>GPT-2's bytes_to_unicode, written out the way the reference implementation builds it.</summary>
    public static readonly (byte Byte, char Symbol)[] Alphabet = BuildAlphabet();

    public static string Sym(byte b) => Alphabet.First(a => a.Byte == b).Symbol.ToString();

    /// <summary>The merges as (left, right) symbol strings, in rank order.</summary>
    public static (string A, string B)[] Merges() =>
    [
        ("Ġ", "t"),
        ("h", "e"),
        ("Ġt", "he"),
        ("i", "n"),
        ("Ġ", "Ġ"),
        ("#", "#"),
        (Sym(0xE4), Sym(0xB8)),                // 中 = E4 B8 AD
        (Sym(0xE4) + Sym(0xB8), Sym(0xAD)),
        ("Ċ", "Ċ"),
    ];

    /// <param name="addedOffset">Shifts the added-token ids up, leaving a gap of unused ids after the vocabulary.</param>
    public static string TokenizerJson(bool mergesAsPairs = false, bool ignoreMerges = false, string preTokenizer = "qwen2", string modelType = "BPE", int addedOffset = 0)
    {
        var vocab = new JsonObject();
        for (int i = 0; i < Alphabet.Length; i++) vocab[Alphabet[i].Symbol.ToString()] = i;
        var merges = new JsonArray();
        int next = 256;
        foreach (var (a, b) in Merges())
        {
            vocab[a + b] = next++;
            merges.Add(mergesAsPairs ? new JsonArray(a, b) : (JsonNode)JsonValue.Create(a + " " + b));
        }
        vocab["Ġxyz"] = next;

        JsonNode pre = preTokenizer switch
        {
            "qwen2" => new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Qwen2Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
            },
            "gpt2" => new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            _ => throw new ArgumentException(preTokenizer),
        };

        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(
                Added(EndOfText + addedOffset, "<|endoftext|>", true),
                Added(ImStart + addedOffset, "<|im_start|>", true),
                Added(ImEnd + addedOffset, "<|im_end|>", true),
                Added(Think + addedOffset, "<think>", false)),
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = pre,
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
            ["model"] = new JsonObject
            {
                ["type"] = modelType,
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = ignoreMerges,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public const string ChatTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}{% endfor %}";

    public static string ConfigJson(string? eos = "<|im_end|>") => new JsonObject
    {
        ["add_prefix_space"] = false,
        ["bos_token"] = null,
        ["eos_token"] = eos,
        ["pad_token"] = new JsonObject { ["content"] = "<|endoftext|>", ["lstrip"] = false, ["rstrip"] = false, ["special"] = true },
        ["chat_template"] = ChatTemplate,
        ["model_max_length"] = 32768,
        ["tokenizer_class"] = "Qwen2Tokenizer",
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    private static JsonObject Added(int id, string content, bool special) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = false,
        ["special"] = special,
    };

    private static (byte, char)[] BuildAlphabet()
    {
        var bs = new List<int>();
        for (int b = '!'; b <= '~'; b++) bs.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++) bs.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++) bs.Add(b);
        var cs = new List<int>(bs);
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (bs.Contains(b)) continue;
            bs.Add(b);
            cs.Add(256 + n++);
        }
        return bs.Zip(cs, (b, c) => ((byte)b, (char)c)).ToArray();
    }
}
