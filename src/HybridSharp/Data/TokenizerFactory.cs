using System.Text.Json;
using System.Text.Json.Nodes;

namespace HybridSharp.Data;

/// <summary>
/// Creates tokenizers by kind and reads/writes the tokenizer files of a model directory. Today: "byte" (embedded
/// default). HF tokenizer.json BPE and tiktoken encodings are added behind the same switch.
/// </summary>
public static class TokenizerFactory
{
    public const string ConfigFile = "tokenizer_config.json";

    public static ITokenizer Create(string kind) => kind switch
    {
        "byte" => new ByteTokenizer(),
        _ => throw new ArgumentException($"unknown tokenizer kind '{kind}' (known: byte)"),
    };

    /// <summary>Writes tokenizer_config.json (and, for file-backed tokenizers, their files) into a model directory.</summary>
    public static void Save(ITokenizer tokenizer, string directory)
    {
        var kind = tokenizer switch
        {
            ByteTokenizer => "byte",
            _ => throw new ArgumentException($"cannot save tokenizer of type {tokenizer.GetType().Name}"),
        };
        var special = new JsonObject();
        foreach (var (text, id) in tokenizer.SpecialTokens.OrderBy(kv => kv.Value)) special[text] = id;
        var json = new JsonObject
        {
            ["tokenizer_class"] = "HybridSharpByteTokenizer",
            ["hybridsharp_tokenizer"] = kind,
            ["vocab_size"] = tokenizer.VocabSize,
            ["bos_token"] = ByteTokenizer.Bos,
            ["eos_token"] = ByteTokenizer.Eos,
            ["pad_token"] = ByteTokenizer.Pad,
            ["special_tokens"] = special,
            ["chat_template"] = "chatml",
        };
        IO.AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Loads the tokenizer a model directory names; falls back to <paramref name="fallbackKind"/>.</summary>
    public static ITokenizer Load(string directory, string fallbackKind = "byte")
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) return Create(fallbackKind);
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException ex) { throw new InvalidDataException($"{path}: not valid JSON ({ex.Message.Split('\n')[0]})"); }
        var kind = node?["hybridsharp_tokenizer"]?.GetValue<string>() ?? fallbackKind;
        return Create(kind);
    }
}
