using System.Text.Json;
using System.Text.Json.Nodes;

namespace HybridSharp.Data.Tokenizers;

/// <summary>
/// Tokenizer kind strings and the tokenizers they name:
/// <list type="bullet">
/// <item><c>"byte"</c>: <see cref="ByteTokenizer"/> (no files).</item>
/// <item><c>"hf"</c>: <see cref="HfBpeTokenizer"/> from the <c>tokenizer.json</c> of a directory.</item>
/// <item><c>"tiktoken:&lt;encoding&gt;"</c>: <see cref="TiktokenTokenizerAdapter"/>, e.g. <c>"tiktoken:cl100k_base"</c>.</item>
/// </list>
/// </summary>
public static class TokenizerKinds
{
    /// <summary>The embedded byte tokenizer.</summary>
    public const string Byte = "byte";

    /// <summary>A Hugging Face tokenizer.json in a model directory.</summary>
    public const string Hf = "hf";

    /// <summary>Prefix of tiktoken kinds; the encoding name follows.</summary>
    public const string TiktokenPrefix = "tiktoken:";

    /// <summary>The key in tokenizer_config.json that records a HybridSharp kind.</summary>
    public const string ConfigKindKey = "hybridsharp_tokenizer";

    /// <summary>Every kind string: byte, hf and one tiktoken kind per supported encoding.</summary>
    public static IReadOnlyList<string> All { get; } =
        [Byte, Hf, .. TiktokenTokenizerAdapter.Encodings.Select(e => TiktokenPrefix + e)];

    /// <summary>True when <paramref name="kind"/> needs a directory (today only "hf").</summary>
    public static bool NeedsDirectory(string kind) => kind == Hf;

    /// <summary>Creates the tokenizer a kind names.</summary>
    /// <param name="kind">"byte", "hf" or "tiktoken:&lt;encoding&gt;".</param>
    /// <param name="directory">For "hf": the directory holding tokenizer.json (or that file's path); ignored otherwise.</param>
    /// <exception cref="ArgumentException">Unknown kind or encoding, or "hf" without a directory.</exception>
    public static ITokenizer Create(string kind, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (kind == Byte) return new ByteTokenizer();
        if (kind == Hf)
        {
            if (string.IsNullOrEmpty(directory))
                throw new ArgumentException($"tokenizer kind '{Hf}' needs a directory holding {HfBpeTokenizer.TokenizerFile}");
            return HfBpeTokenizer.Load(directory);
        }
        if (kind.StartsWith(TiktokenPrefix, StringComparison.Ordinal))
        {
            var encoding = kind[TiktokenPrefix.Length..];
            if (!TiktokenTokenizerAdapter.Encodings.Contains(encoding))
                throw new ArgumentException($"unknown tiktoken encoding '{encoding}' in tokenizer kind '{kind}' (known: {string.Join(", ", TiktokenTokenizerAdapter.Encodings)})");
            return new TiktokenTokenizerAdapter(encoding);
        }
        throw new ArgumentException($"unknown tokenizer kind '{kind}' (known: {string.Join(", ", All)})");
    }

    /// <summary>The kind string of a tokenizer instance ("byte", "hf", "tiktoken:&lt;encoding&gt;"); other types: their type name.</summary>
    public static string KindOf(ITokenizer tokenizer) => tokenizer switch
    {
        ByteTokenizer => Byte,
        HfBpeTokenizer => Hf,
        TiktokenTokenizerAdapter t => TiktokenPrefix + t.EncodingName,
        _ => tokenizer.GetType().Name,
    };

    /// <summary>
    /// The kind stored in a directory: <c>hybridsharp_tokenizer</c> of tokenizer_config.json when present, else "hf"
    /// when the directory has a tokenizer.json, else null.
    /// </summary>
    /// <exception cref="InvalidDataException">tokenizer_config.json is not valid JSON.</exception>
    public static string? Detect(string directory)
    {
        var configPath = Path.Combine(directory, HfBpeTokenizer.ConfigFile);
        if (File.Exists(configPath))
        {
            JsonNode? node;
            try { node = JsonNode.Parse(File.ReadAllText(configPath)); }
            catch (JsonException ex) { throw new InvalidDataException($"{configPath}: not valid JSON ({ex.Message.Split('\n')[0]})", ex); }
            if (node is JsonObject obj && obj[ConfigKindKey] is JsonValue v && v.TryGetValue<string>(out var kind)) return kind;
        }
        return File.Exists(Path.Combine(directory, HfBpeTokenizer.TokenizerFile)) ? Hf : null;
    }

    /// <summary>Loads the tokenizer a directory holds (see <see cref="Detect"/>), else creates <paramref name="fallbackKind"/>.</summary>
    public static ITokenizer Load(string directory, string fallbackKind = Byte) =>
        Create(Detect(directory) ?? fallbackKind, directory);
}
