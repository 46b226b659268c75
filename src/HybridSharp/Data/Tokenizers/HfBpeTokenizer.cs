using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using HybridSharp.IO;
using Microsoft.ML.Tokenizers;

namespace HybridSharp.Data.Tokenizers;

/// <summary>
/// A byte-level BPE tokenizer read from a Hugging Face <c>tokenizer.json</c> (GPT-2, Llama 3, Qwen2 and similar),
/// with bos/eos/pad names and the chat template from an optional <c>tokenizer_config.json</c>.
/// </summary>
/// <remarks>
/// Pipeline, mirroring HF <c>tokenizers</c>: added tokens (all of <c>added_tokens</c>) are cut out of the text first
/// and become single ids; each remaining segment is normalised (NFC/NFKC/NFD/NFKD as declared), split by the
/// pre-tokenizer (<c>Split</c> regexes, <c>Digits</c>, <c>ByteLevel</c> with the GPT-2 regex when
/// <c>use_regex</c> is true) and each piece is encoded by Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>
/// (byte-level merges). Decoding concatenates the raw bytes of the tokens, so every string round-trips exactly
/// (up to normalisation). Not honoured: <c>lstrip</c>/<c>rstrip</c>/<c>single_word</c> of added tokens, the
/// <c>post_processor</c> (no BOS is added; callers add it) and <c>clean_up_tokenization_spaces</c>.
/// </remarks>
public sealed class HfBpeTokenizer : ITokenizer
{
    /// <summary>The HF tokenizer file name.</summary>
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>The HF tokenizer configuration file name.</summary>
    public const string ConfigFile = "tokenizer_config.json";

    /// <summary>Newer transformers versions store the chat template in this file instead of the config.</summary>
    public const string ChatTemplateFile = "chat_template.jinja";

    /// <summary>The GPT-2 pre-tokenizer regex, used by <c>ByteLevel(use_regex = true)</c>.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly string[] EosFallbacks = ["<|endoftext|>", "</s>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>"];
    private static readonly string[] BosFallbacks = ["<s>", "<|begin_of_text|>", "<|endoftext|>"];
    private static readonly string[] PadFallbacks = ["<|endoftext|>", "<pad>", "<|pad|>", "[PAD]"];
    private static readonly ConcurrentDictionary<string, Regex> RegexCache = new(StringComparer.Ordinal);

    private readonly string _tokenizerJson;
    private readonly string? _configJson;
    private readonly string? _chatTemplateFileText;
    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int> _added;
    private readonly Regex? _addedRegex;
    private readonly NormalizationForm[] _normalization;
    private readonly SplitStep[] _splits;
    private readonly bool _addPrefixSpace;
    private readonly bool _ignoreMerges;
    private readonly TokenByteTable _table;

    private readonly record struct SplitStep(Regex Regex, bool RemoveMatches);

    private HfBpeTokenizer(string tokenizerJson, string? configJson, string? chatTemplateFileText, string source)
    {
        _tokenizerJson = tokenizerJson;
        _configJson = configJson;
        _chatTemplateFileText = chatTemplateFileText;

        using var doc = ParseJson(tokenizerJson, source);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}: expected a JSON object");
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: no \"model\" object");

        var type = GetString(model, "type");
        if (type is null && model.TryGetProperty("merges", out _)) type = "BPE";
        if (type != "BPE")
            throw new ArgumentException($"{source}: tokenizer model type '{type ?? "(none)"}' is not supported; HfBpeTokenizer reads byte-level BPE only");

        // Vocabulary and merges.
        if (!model.TryGetProperty("vocab", out var vocabEl) || vocabEl.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: model.vocab is missing or not an object");
        _vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocabEl.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var id) || id < 0)
                throw new InvalidDataException($"{source}: vocab entry '{p.Name}' has no valid id");
            _vocab[p.Name] = id;
        }
        var merges = ReadMerges(model, source);
        _ignoreMerges = GetBool(model, "ignore_merges") ?? false;
        if (GetBool(model, "byte_fallback") == true)
            throw new ArgumentException($"{source}: BPE with byte_fallback (SentencePiece-style) is not supported; HfBpeTokenizer reads byte-level BPE only");
        if (!string.IsNullOrEmpty(GetString(model, "continuing_subword_prefix")) || !string.IsNullOrEmpty(GetString(model, "end_of_word_suffix")))
            throw new ArgumentException($"{source}: BPE with continuing_subword_prefix/end_of_word_suffix is not supported; HfBpeTokenizer reads byte-level BPE only");

        // Added tokens: matched before anything else, each one id.
        _added = new Dictionary<string, int>(StringComparer.Ordinal);
        var specialIds = new HashSet<int>();
        if (root.TryGetProperty("added_tokens", out var addedEl) && addedEl.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in addedEl.EnumerateArray())
            {
                var content = GetString(t, "content");
                if (string.IsNullOrEmpty(content) || !t.TryGetProperty("id", out var idEl) || !idEl.TryGetInt32(out var id) || id < 0)
                    throw new InvalidDataException($"{source}: added_tokens entry without content or valid id");
                _added[content] = id;
                if (GetBool(t, "special") ?? true) specialIds.Add(id);
            }
        }
        if (_added.Count > 0)
        {
            var alternation = string.Join("|", _added.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Select(Regex.Escape));
            _addedRegex = GetRegex(alternation, source);
        }

        // Normaliser and pre-tokenizer.
        var norms = new List<NormalizationForm>();
        if (root.TryGetProperty("normalizer", out var normEl)) ReadNormalizer(normEl, norms, source);
        _normalization = norms.ToArray();
        var splits = new List<SplitStep>();
        bool byteLevel = false, prefixSpace = false;
        if (root.TryGetProperty("pre_tokenizer", out var preEl)) ReadPreTokenizer(preEl, splits, ref byteLevel, ref prefixSpace, source);
        _splits = splits.ToArray();
        _addPrefixSpace = prefixSpace;
        if (!byteLevel && root.TryGetProperty("decoder", out var decEl) && ContainsType(decEl, "decoders", "ByteLevel"))
            byteLevel = true;
        if (!byteLevel)
            throw new ArgumentException($"{source}: BPE without a ByteLevel pre-tokenizer/decoder is not supported; HfBpeTokenizer reads byte-level BPE only");

        _bpe = BpeTokenizer.Create(new BpeOptions(_vocab)
        {
            Merges = merges,
            SpecialTokens = new Dictionary<string, int>(_added, StringComparer.Ordinal),
            PreTokenizer = new SplitPreTokenizer(_splits),
            ByteLevel = true,
        });

        // id -> bytes, specials.
        int maxId = -1;
        foreach (var id in _vocab.Values) maxId = Math.Max(maxId, id);
        foreach (var id in _added.Values) maxId = Math.Max(maxId, id);
        if (maxId < 0) throw new InvalidDataException($"{source}: empty vocabulary");
        VocabSize = maxId + 1;
        var bytes = new byte[VocabSize][];
        foreach (var (token, id) in _vocab) bytes[id] = ByteLevelMap.Decode(token);
        foreach (var (token, id) in _added) bytes[id] = Encoding.UTF8.GetBytes(token);

        // bos/eos/pad and chat template from tokenizer_config.json.
        string? bosName = null, eosName = null, padName = null;
        if (configJson is not null)
        {
            using var cfg = ParseJson(configJson, ConfigFile);
            var c = cfg.RootElement;
            if (c.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{ConfigFile}: expected a JSON object");
            bosName = TokenName(c, "bos_token");
            eosName = TokenName(c, "eos_token");
            padName = TokenName(c, "pad_token");
            ChatTemplate = ReadChatTemplate(c);
        }
        ChatTemplate ??= chatTemplateFileText;
        EosId = ResolveToken(eosName, "eos_token", EosFallbacks)
            ?? throw new ArgumentException($"{source}: cannot determine the EOS token: {ConfigFile} names no eos_token and none of {string.Join(", ", EosFallbacks)} is in the vocabulary");
        BosId = ResolveToken(bosName, "bos_token", BosFallbacks) ?? EosId;
        PadId = ResolveToken(padName, "pad_token", PadFallbacks) ?? EosId;
        specialIds.Add(EosId);
        specialIds.Add(BosId);
        specialIds.Add(PadId);
        var special = new bool[VocabSize];
        foreach (var id in specialIds) special[id] = true;
        _table = new TokenByteTable(bytes, special);
    }

    /// <summary>Loads <c>tokenizer.json</c> (required) and <c>tokenizer_config.json</c> / <c>chat_template.jinja</c> (optional) from a directory.</summary>
    /// <param name="directory">A model directory, or the path of a <c>tokenizer.json</c> file.</param>
    /// <exception cref="FileNotFoundException">No tokenizer.json.</exception>
    /// <exception cref="ArgumentException">The tokenizer is not a byte-level BPE.</exception>
    public static HfBpeTokenizer Load(string directory)
    {
        string path;
        if (File.Exists(directory) && !Directory.Exists(directory))
        {
            path = directory;
            directory = Path.GetDirectoryName(Path.GetFullPath(directory))!;
        }
        else path = Path.Combine(directory, TokenizerFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file not found: {path}", path);
        var configPath = Path.Combine(directory, ConfigFile);
        var templatePath = Path.Combine(directory, ChatTemplateFile);
        return new HfBpeTokenizer(
            File.ReadAllText(path),
            File.Exists(configPath) ? File.ReadAllText(configPath) : null,
            File.Exists(templatePath) ? File.ReadAllText(templatePath) : null,
            path);
    }

    /// <summary>Builds the tokenizer from the text of <c>tokenizer.json</c> and, optionally, <c>tokenizer_config.json</c>.</summary>
    /// <param name="tokenizerJson">Content of tokenizer.json.</param>
    /// <param name="tokenizerConfigJson">Content of tokenizer_config.json, or null.</param>
    /// <param name="chatTemplate">Content of chat_template.jinja, or null (used when the config has no chat_template).</param>
    public static HfBpeTokenizer FromJson(string tokenizerJson, string? tokenizerConfigJson, string? chatTemplate = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJson);
        return new HfBpeTokenizer(tokenizerJson, tokenizerConfigJson, chatTemplate, TokenizerFile);
    }

    /// <summary>The Jinja chat template from tokenizer_config.json (or chat_template.jinja), if any.</summary>
    public string? ChatTemplate { get; }

    /// <inheritdoc />
    public int VocabSize { get; }

    /// <inheritdoc />
    public int BosId { get; }

    /// <inheritdoc />
    public int EosId { get; }

    /// <inheritdoc />
    public int PadId { get; }

    /// <summary>All added tokens (content → id); <see cref="Encode"/> matches each one as a single id.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens => _added;

    /// <summary>The id of a token string (added token or byte-level vocabulary entry), or null.</summary>
    public int? TokenToId(string token) =>
        _added.TryGetValue(token, out var id) || _vocab.TryGetValue(token, out id) ? id : null;

    /// <summary>Writes the original tokenizer.json, tokenizer_config.json and chat_template.jinja (those that were read) into <paramref name="directory"/>, atomically.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, TokenizerFile), _tokenizerJson);
        if (_configJson is not null) AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), _configJson);
        if (_chatTemplateFileText is not null) AtomicFile.WriteAllText(Path.Combine(directory, ChatTemplateFile), _chatTemplateFileText);
    }

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        int pos = 0;
        if (_addedRegex is not null)
        {
            foreach (var m in _addedRegex.EnumerateMatches(text))
            {
                if (m.Length == 0) continue;
                EncodeSegment(text.AsSpan(pos, m.Index - pos), ids);
                ids.Add(_added[text.Substring(m.Index, m.Length)]);
                pos = m.Index + m.Length;
            }
        }
        EncodeSegment(text.AsSpan(pos), ids);
        return ids.ToArray();
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false) => _table.Decode(ids, skipSpecial);

    /// <inheritdoc />
    public byte[] TokenBytes(int id) => _table.TokenBytes(id);

    /// <inheritdoc />
    public bool IsSpecial(int id) => _table.IsSpecial(id);

    private void EncodeSegment(ReadOnlySpan<char> segment, List<int> ids)
    {
        if (segment.IsEmpty) return;
        if (_normalization.Length > 0 || _addPrefixSpace)
        {
            var s = segment.ToString();
            foreach (var form in _normalization) s = s.Normalize(form);
            if (_addPrefixSpace && !s.StartsWith(' ')) s = " " + s;
            segment = s;
        }
        if (!_ignoreMerges)
        {
            // One call per segment: the library runs SplitPreTokenizer and the merges with its word cache.
            ids.AddRange(_bpe.EncodeToIds(segment, considerPreTokenization: true, considerNormalization: false));
            return;
        }
        // ignore_merges (Llama 3): a piece that is a whole vocabulary entry becomes that id without merging.
        Span<byte> small = stackalloc byte[256];
        foreach (var (offset, length) in SplitPreTokenizer.Split(_splits, segment))
        {
            var piece = segment.Slice(offset, length);
            var byteCount = Encoding.UTF8.GetByteCount(piece);
            var utf8 = byteCount <= small.Length ? small[..byteCount] : new byte[byteCount];
            Encoding.UTF8.GetBytes(piece, utf8);
            if (_vocab.TryGetValue(ByteLevelMap.Encode(utf8), out var whole)) ids.Add(whole);
            else ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
        }
    }

    /// <summary>
    /// HF-style splitting: each step splits every current piece by its regex, keeping the text between matches as
    /// pieces too (behavior "Isolated"; "Removed" drops the matches). Unlike a plain regex pre-tokenizer, no text is lost.
    /// </summary>
    private sealed class SplitPreTokenizer(SplitStep[] steps) : PreTokenizer
    {
        public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(steps, text.AsSpan());

        public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(steps, text);

        public static List<(int Offset, int Length)> Split(SplitStep[] steps, ReadOnlySpan<char> text)
        {
            var result = new List<(int, int)>();
            Split(steps, text, 0, 0, result);
            return result;
        }

        private static void Split(SplitStep[] steps, ReadOnlySpan<char> s, int offset, int step, List<(int, int)> result)
        {
            if (s.IsEmpty) return;
            if (step == steps.Length)
            {
                result.Add((offset, s.Length));
                return;
            }
            var (regex, remove) = steps[step];
            int pos = 0;
            foreach (var m in regex.EnumerateMatches(s))
            {
                if (m.Length == 0) continue;
                if (m.Index > pos) Split(steps, s[pos..m.Index], offset + pos, step + 1, result);
                if (!remove) Split(steps, s.Slice(m.Index, m.Length), offset + m.Index, step + 1, result);
                pos = m.Index + m.Length;
            }
            if (pos < s.Length) Split(steps, s[pos..], offset + pos, step + 1, result);
        }
    }

    private int? ResolveToken(string? configured, string key, string[] fallbacks)
    {
        if (configured is not null)
            return TokenToId(configured) ?? throw new ArgumentException($"{ConfigFile}: {key} '{configured}' is not in the vocabulary");
        foreach (var name in fallbacks)
        {
            if (TokenToId(name) is int id) return id;
        }
        return null;
    }

    private static IEnumerable<string> ReadMerges(JsonElement model, string source)
    {
        var merges = new List<string>();
        if (!model.TryGetProperty("merges", out var el) || el.ValueKind == JsonValueKind.Null) return merges;
        if (el.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{source}: model.merges is not an array");
        foreach (var m in el.EnumerateArray())
        {
            switch (m.ValueKind)
            {
                case JsonValueKind.String:
                    var s = m.GetString()!;
                    int sp = s.IndexOf(' ');
                    if (sp <= 0 || sp == s.Length - 1 || s.IndexOf(' ', sp + 1) >= 0)
                        throw new InvalidDataException($"{source}: merge \"{s}\" is not of the form \"a b\"");
                    merges.Add(s);
                    break;
                case JsonValueKind.Array when m.GetArrayLength() == 2:
                    var a = m[0].GetString();
                    var b = m[1].GetString();
                    if (string.IsNullOrEmpty(a) || string.IsNullOrEmpty(b))
                        throw new InvalidDataException($"{source}: merge pair {m.GetRawText()} has an empty part");
                    if (a.Contains(' ') || b.Contains(' '))
                        throw new ArgumentException($"{source}: merge pair {m.GetRawText()} contains a space, which byte-level BPE never does");
                    merges.Add(a + " " + b);
                    break;
                default:
                    throw new InvalidDataException($"{source}: merge {m.GetRawText()} is neither \"a b\" nor [\"a\", \"b\"]");
            }
        }
        return merges;
    }

    private static void ReadNormalizer(JsonElement el, List<NormalizationForm> forms, string source)
    {
        if (el.ValueKind == JsonValueKind.Null) return;
        var type = GetString(el, "type");
        switch (type)
        {
            case "NFC": forms.Add(NormalizationForm.FormC); break;
            case "NFD": forms.Add(NormalizationForm.FormD); break;
            case "NFKC": forms.Add(NormalizationForm.FormKC); break;
            case "NFKD": forms.Add(NormalizationForm.FormKD); break;
            case "Sequence":
                if (el.TryGetProperty("normalizers", out var list) && list.ValueKind == JsonValueKind.Array)
                    foreach (var n in list.EnumerateArray()) ReadNormalizer(n, forms, source);
                break;
            default:
                throw new ArgumentException($"{source}: normalizer type '{type ?? "(none)"}' is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence of these)");
        }
    }

    private static void ReadPreTokenizer(JsonElement el, List<SplitStep> splits, ref bool byteLevel, ref bool prefixSpace, string source)
    {
        if (el.ValueKind == JsonValueKind.Null) return;
        var type = GetString(el, "type");
        switch (type)
        {
            case "Sequence":
                if (el.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array)
                    foreach (var p in list.EnumerateArray()) ReadPreTokenizer(p, splits, ref byteLevel, ref prefixSpace, source);
                break;
            case "ByteLevel":
                byteLevel = true;
                if (GetBool(el, "add_prefix_space") == true) prefixSpace = true;
                if (GetBool(el, "use_regex") ?? true) splits.Add(new SplitStep(GetRegex(Gpt2Pattern, source), false));
                break;
            case "Split":
                if (GetBool(el, "invert") == true)
                    throw new ArgumentException($"{source}: Split pre-tokenizer with invert = true is not supported");
                string pattern;
                if (el.TryGetProperty("pattern", out var pat) && GetString(pat, "Regex") is string rx) pattern = rx;
                else if (el.TryGetProperty("pattern", out pat) && GetString(pat, "String") is string lit) pattern = Regex.Escape(lit);
                else throw new InvalidDataException($"{source}: Split pre-tokenizer without a pattern");
                var behavior = GetString(el, "behavior") ?? "Isolated";
                if (behavior is not ("Isolated" or "Removed"))
                    throw new ArgumentException($"{source}: Split behavior '{behavior}' is not supported (supported: Isolated, Removed)");
                splits.Add(new SplitStep(GetRegex(pattern, source), behavior == "Removed"));
                break;
            case "Digits":
                splits.Add(new SplitStep(GetRegex(GetBool(el, "individual_digits") == true ? @"\p{N}" : @"\p{N}+", source), false));
                break;
            default:
                throw new ArgumentException($"{source}: pre-tokenizer type '{type ?? "(none)"}' is not supported (supported: ByteLevel, Split, Digits, Sequence)");
        }
    }

    private static bool ContainsType(JsonElement el, string listKey, string type)
    {
        if (el.ValueKind != JsonValueKind.Object) return false;
        if (GetString(el, "type") == type) return true;
        if (el.TryGetProperty(listKey, out var list) && list.ValueKind == JsonValueKind.Array)
            foreach (var child in list.EnumerateArray())
                if (ContainsType(child, listKey, type)) return true;
        return false;
    }

    private static string? TokenName(JsonElement config, string key)
    {
        if (!config.TryGetProperty(key, out var el)) return null;
        return el.ValueKind switch
        {
            JsonValueKind.String => el.GetString(),
            JsonValueKind.Object => GetString(el, "content"),
            _ => null,
        };
    }

    private static string? ReadChatTemplate(JsonElement config)
    {
        if (!config.TryGetProperty("chat_template", out var el)) return null;
        if (el.ValueKind == JsonValueKind.String) return el.GetString();
        if (el.ValueKind != JsonValueKind.Array) return null;
        string? first = null;
        foreach (var t in el.EnumerateArray())
        {
            var template = GetString(t, "template");
            if (template is null) continue;
            if (GetString(t, "name") == "default") return template;
            first ??= template;
        }
        return first;
    }

    private static Regex GetRegex(string pattern, string source)
    {
        try
        {
            return RegexCache.GetOrAdd(pattern, static p => new Regex(p, RegexOptions.Compiled | RegexOptions.CultureInvariant));
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"{source}: pre-tokenizer regex is not valid for .NET ({ex.Message}): {pattern}", ex);
        }
    }

    private static JsonDocument ParseJson(string json, string source)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({ex.Message.Split('\n')[0]})", ex);
        }
    }

    private static string? GetString(JsonElement el, string key) =>
        el.ValueKind == JsonValueKind.Object && el.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool? GetBool(JsonElement el, string key) =>
        el.ValueKind == JsonValueKind.Object && el.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean()
            : null;
}
