using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Data;

namespace HybridSharp.Data.Tokenizers;

/// <summary>
/// Creates tokenizers by kind and reads/writes the tokenizer files of a model directory. Kinds (see
/// <see cref="TokenizerKinds"/>): "byte" (embedded default), "hf" (tokenizer.json in the model directory) and
/// "tiktoken:&lt;encoding&gt;" (cl100k_base, o200k_base, r50k_base, gpt2).
/// </summary>
public static class TokenizerFactory
{
    public const string ConfigFile = "tokenizer_config.json";

    /// <summary>Creates the tokenizer a kind names; "hf" needs <paramref name="directory"/> (the folder holding tokenizer.json).</summary>
    public static ITokenizer Create(string kind, string? directory = null) => TokenizerKinds.Create(kind, directory);

    /// <summary>Writes tokenizer_config.json (and, for file-backed tokenizers, their files) into a model directory.</summary>
    public static void Save(ITokenizer tokenizer, string directory)
    {
        switch (tokenizer)
        {
            case HfBpeTokenizer hf:
                hf.Save(directory); // original tokenizer.json / tokenizer_config.json / chat_template.jinja
                return;
            case TiktokenTokenizerAdapter tiktoken:
                tiktoken.Save(directory); // tokenizer_config.json with "hybridsharp_tokenizer": "tiktoken:<encoding>"
                return;
            case ByteTokenizer:
                break;
            default:
                throw new ArgumentException($"cannot save tokenizer of type {tokenizer.GetType().Name}");
        }
        var special = new JsonObject();
        foreach (var (text, id) in tokenizer.SpecialTokens.OrderBy(kv => kv.Value)) special[text] = id;
        var json = new JsonObject
        {
            ["tokenizer_class"] = "HybridSharpByteTokenizer",
            [TokenizerKinds.ConfigKindKey] = TokenizerKinds.Byte,
            ["vocab_size"] = tokenizer.VocabSize,
            ["bos_token"] = ByteTokenizer.Bos,
            ["eos_token"] = ByteTokenizer.Eos,
            ["pad_token"] = ByteTokenizer.Pad,
            ["special_tokens"] = special,
            ["chat_template"] = ChatMl.Template,
        };
        IO.AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>
    /// Loads the tokenizer a model directory names: "hybridsharp_tokenizer" in tokenizer_config.json, else "hf" when
    /// the directory has a tokenizer.json, else <paramref name="fallbackKind"/>.
    /// </summary>
    public static ITokenizer Load(string directory, string fallbackKind = "byte") => TokenizerKinds.Load(directory, fallbackKind);
}
