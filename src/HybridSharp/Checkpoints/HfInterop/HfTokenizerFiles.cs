using HybridSharp.IO;
using System.Text.Json.Nodes;
using HybridSharp.Data;
using HybridSharp.Data.Tokenizers;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>
/// Tokenizer files for Hugging Face. The byte tokenizer becomes an equivalent HF <c>tokenizer.json</c>: a byte-level BPE
/// with the 256 single-byte tokens (ids = byte values, written in the GPT-2 byte-level alphabet), no merges, and the
/// specials as added tokens at their HybridSharp ids, so HF <c>tokenizers</c> and HybridSharp give the same ids for every text.
/// </summary>
public static class HfTokenizerFiles
{
    public const string SpecialTokensMapFile = "special_tokens_map.json";

    /// <summary>The HF <c>tokenizer.json</c> text equivalent to <see cref="ByteTokenizer"/>.</summary>
    public static string ByteTokenizerJson()
    {
        var tok = new ByteTokenizer();
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevelMap.Encode([(byte)b])] = b;
        var added = new JsonArray();
        foreach (var (text, id) in tok.SpecialTokens.OrderBy(kv => kv.Value))
            added.Add(new JsonObject
            {
                ["id"] = id, ["content"] = text, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = new JsonArray(),
            },
        };
        return root.ToJsonString(HfJson.Indented) + "\n";
    }

    /// <summary>
    /// The HF <c>tokenizer_config.json</c> for the byte tokenizer: <c>PreTrainedTokenizerFast</c>, its bos/eos/pad, the
    /// ChatML markers as additional specials, a Jinja ChatML template, and <c>hybridsharp_tokenizer: "byte"</c> so that
    /// HybridSharp keeps using its own byte tokenizer when the directory is imported back.
    /// </summary>
    public static string ByteTokenizerConfigJson(int modelMaxLength)
    {
        var tok = new ByteTokenizer();
        var decoder = new JsonObject();
        foreach (var (text, id) in tok.SpecialTokens.OrderBy(kv => kv.Value))
            decoder[id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = text, ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false, ["single_word"] = false, ["special"] = true,
            };
        var root = new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            [TokenizerKinds.ConfigKindKey] = TokenizerKinds.Byte,
            ["added_tokens_decoder"] = decoder,
            ["bos_token"] = ByteTokenizer.Bos,
            ["eos_token"] = ByteTokenizer.Eos,
            ["pad_token"] = ByteTokenizer.Pad,
            ["additional_special_tokens"] = new JsonArray(ByteTokenizer.ImStart, ByteTokenizer.ImEnd),
            ["add_bos_token"] = false,
            ["add_eos_token"] = false,
            ["clean_up_tokenization_spaces"] = false,
            ["model_max_length"] = modelMaxLength,
            ["chat_template"] = ChatMl.Template,
        };
        return root.ToJsonString(HfJson.Indented) + "\n";
    }

    private static string ByteSpecialTokensMapJson() => new JsonObject
    {
        ["bos_token"] = ByteTokenizer.Bos,
        ["eos_token"] = ByteTokenizer.Eos,
        ["pad_token"] = ByteTokenizer.Pad,
        ["additional_special_tokens"] = new JsonArray(ByteTokenizer.ImStart, ByteTokenizer.ImEnd),
    }.ToJsonString(HfJson.Indented) + "\n";

    /// <summary>Writes the tokenizer files HF reads into <paramref name="directory"/>; problems HF users should know go to <paramref name="notes"/>.</summary>
    internal static void Write(ITokenizer tokenizer, string directory, int modelMaxLength, List<string> notes)
    {
        switch (tokenizer)
        {
            case HfBpeTokenizer hf:
                hf.Save(directory);
                break;
            case ByteTokenizer:
                AtomicFile.WriteAllText(Path.Combine(directory, HfBpeTokenizer.TokenizerFile), ByteTokenizerJson());
                AtomicFile.WriteAllText(Path.Combine(directory, HfBpeTokenizer.ConfigFile), ByteTokenizerConfigJson(modelMaxLength));
                AtomicFile.WriteAllText(Path.Combine(directory, SpecialTokensMapFile), ByteSpecialTokensMapJson());
                notes.Add("the byte tokenizer was written as an equivalent HF tokenizer.json (256 byte tokens, no merges, 5 specials): " +
                          "AutoTokenizer loads it; it adds no BOS token, as in HybridSharp");
                break;
            default:
                TokenizerFactory.Save(tokenizer, directory);
                notes.Add($"tokenizer '{TokenizerKinds.KindOf(tokenizer)}' has no HF tokenizer.json form here; only tokenizer_config.json " +
                          "(HybridSharp-specific) was written, so load the tokenizer separately in HF (e.g. with tiktoken)");
                break;
        }
    }
}
