using System.Text;
using System.Text.Json;
using HybridSharp.Data.Tokenizers.Hf;
using HybridSharp.IO;

namespace HybridSharp.Data.Tokenizers;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> with a BPE model — byte-level (GPT-2, GPT-4o, Llama 3, Qwen, DeepSeek) or
/// SentencePiece-style with byte fallback (Llama 2, Mistral, Gemma) — and its <c>tokenizer_config.json</c> (special
/// tokens, <c>add_bos_token</c> / <c>add_eos_token</c>, chat templates) and optional <c>chat_template.jinja</c>.
/// </summary>
/// <remarks>
/// The pipeline is HF tokenizers' own, on Unicode code points: added tokens matched on the raw text
/// (<c>normalized: false</c>) are cut out first; each remaining segment is normalised, added tokens matched on
/// normalised text are cut out, the rest is pre-tokenized and each piece is encoded by the BPE model. Decoding runs
/// the decoder chain over the token strings. <see cref="Encode(string, bool)"/> with special tokens adds what the
/// post-processor adds, unless tokenizer_config.json sets <c>add_bos_token</c> / <c>add_eos_token</c>, which then
/// decide (as transformers' Llama and Gemma tokenizers do). <c>clean_up_tokenization_spaces</c> is not applied:
/// decoding stays the exact inverse of encoding.
/// </remarks>
public sealed class HfBpeTokenizer : ITokenizer
{
    /// <summary>The HF tokenizer file name.</summary>
    public const string TokenizerFile = "tokenizer.json";

    /// <summary>The HF tokenizer configuration file name.</summary>
    public const string ConfigFile = "tokenizer_config.json";

    /// <summary>Newer transformers versions store the chat template in this file instead of the config.</summary>
    public const string ChatTemplateFile = "chat_template.jinja";

    private static readonly string[] EosFallbacks = ["<|endoftext|>", "</s>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>", "<eos>"];

    private readonly string _tokenizerJson;
    private readonly string? _configJson;
    private readonly string? _chatTemplateFileText;
    private readonly BpeModel _model;
    private readonly HfNormalizer? _normalizer;
    private readonly HfPreTokenizer? _preTokenizer;
    private readonly HfDecoder? _decoder;
    private readonly AddedTokenMatcher _rawAdded, _normalizedAdded;
    private readonly Dictionary<string, int> _added = new(StringComparer.Ordinal);
    private readonly string?[] _tokens;
    private readonly int[] _prefix, _suffix;
    private readonly TokenByteTable _table;

    private HfBpeTokenizer(string tokenizerJson, string? configJson, string? chatTemplateFileText, string source)
    {
        _tokenizerJson = tokenizerJson;
        _configJson = configJson;
        _chatTemplateFileText = chatTemplateFileText;

        using var doc = ParseJson(tokenizerJson, source);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}: expected a JSON object");
        if (!root.TryGetProperty("model", out var modelEl) || modelEl.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: no \"model\" object");
        try
        {
            _model = BpeModel.Read(modelEl, source);
            _normalizer = root.TryGetProperty("normalizer", out var n) ? HfNormalizer.Read(n) : null;
            _preTokenizer = root.TryGetProperty("pre_tokenizer", out var p) ? HfPreTokenizer.Read(p) : null;
            _decoder = root.TryGetProperty("decoder", out var d) ? HfDecoder.Read(d) : null;
            var post = root.TryGetProperty("post_processor", out var pp) ? HfPostProcessor.Read(pp) : HfPostProcessor.None;
            _prefix = post.Prefix;
            _suffix = post.Suffix;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidDataException && !ex.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw ex is ArgumentException ? new ArgumentException($"{source}: {ex.Message}", ex) : new InvalidDataException($"{source}: {ex.Message}", ex);
        }

        var added = new List<AddedToken>();
        foreach (var t in HfJson.List(root, "added_tokens"))
        {
            var content = HfJson.GetString(t, "content");
            if (string.IsNullOrEmpty(content) || HfJson.GetInt(t, "id") is not int id || id < 0)
                throw new InvalidDataException($"{source}: added_tokens entry without content or valid id");
            bool isSpecial = HfJson.GetBool(t, "special") ?? false;
            added.Add(new AddedToken(id, content, isSpecial, HfJson.GetBool(t, "normalized") ?? !isSpecial,
                HfJson.GetBool(t, "lstrip") ?? false, HfJson.GetBool(t, "rstrip") ?? false, HfJson.GetBool(t, "single_word") ?? false));
            _added[content] = id;
        }
        _rawAdded = new AddedTokenMatcher(added.Where(t => !t.Normalized));
        _normalizedAdded = new AddedTokenMatcher(added.Where(t => t.Normalized));

        int maxId = -1;
        foreach (var id in _model.Vocab.Values) maxId = Math.Max(maxId, id);
        foreach (var t in added) maxId = Math.Max(maxId, t.Id);
        if (maxId < 0) throw new InvalidDataException($"{source}: empty vocabulary");
        VocabSize = maxId + 1;
        _tokens = new string?[VocabSize];
        foreach (var (token, id) in _model.Vocab) _tokens[id] = token;
        foreach (var t in added) _tokens[t.Id] = t.Content;

        var specialIds = added.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        var config = TokenizerConfig.Read(configJson);
        // chat_template.jinja replaces whatever tokenizer_config.json names, as in transformers.
        ChatTemplate = chatTemplateFileText ?? config.DefaultTemplate;
        ChatTemplates = chatTemplateFileText is null ? config.Templates : new Dictionary<string, string>();
        SpecialTokenTexts = config.SpecialTokens;
        EosId = Resolve(config.SpecialTokens.GetValueOrDefault("eos_token"), "eos_token")
            ?? EosFallbacks.Select(name => TokenToId(name)).FirstOrDefault(id => id is not null)
            ?? throw new ArgumentException($"{source}: cannot determine the EOS token: {ConfigFile} names no eos_token and none of {string.Join(", ", EosFallbacks)} is in the vocabulary");
        int? bos = Resolve(config.SpecialTokens.GetValueOrDefault("bos_token"), "bos_token");
        int? pad = Resolve(config.SpecialTokens.GetValueOrDefault("pad_token"), "pad_token");
        PadId = pad ?? EosId;
        // Without a BOS token nothing is prepended (see SpecialTokenFrame); BosId, which a model config records as
        // bos_token_id and data files use between documents, then names the post-processor's first token, else pad.
        BosId = bos ?? (_prefix.Length > 0 ? _prefix[0] : PadId);
        if (config.AddBosToken is not null || config.AddEosToken is not null)
        {
            if (config.AddBosToken == true && bos is null) throw new ArgumentException($"{ConfigFile}: add_bos_token is true but no bos_token is named");
            _prefix = config.AddBosToken == true ? [bos!.Value] : [];
            _suffix = config.AddEosToken == true ? [EosId] : [];
        }
        foreach (var name in config.SpecialTokens.Values)
            if (TokenToId(name) is int id) specialIds.Add(id);
        specialIds.Add(EosId);
        if (bos is int b) specialIds.Add(b);

        var bytes = new byte[VocabSize][];
        var special = new bool[VocabSize];
        for (int id = 0; id < VocabSize; id++)
        {
            var token = _tokens[id];
            if (token is null) continue;
            bytes[id] = _added.ContainsKey(token) && _added[token] == id ? Encoding.UTF8.GetBytes(token) : StandaloneBytes(token);
        }
        foreach (var id in specialIds) special[id] = true;
        _table = new TokenByteTable(bytes, special);
    }

    /// <summary>Loads <c>tokenizer.json</c> (required) and <c>tokenizer_config.json</c> / <c>chat_template.jinja</c> (optional) from a directory.</summary>
    /// <param name="directory">A model directory, or the path of a <c>tokenizer.json</c> file.</param>
    /// <exception cref="FileNotFoundException">No tokenizer.json.</exception>
    /// <exception cref="ArgumentException">A component the tokenizer uses is not supported.</exception>
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

    /// <summary>The default Jinja chat template (tokenizer_config.json's, else chat_template.jinja), if any.</summary>
    public string? ChatTemplate { get; }

    /// <summary>Named chat templates from the list form of <c>chat_template</c> (e.g. <c>default</c>, <c>tool_use</c>); empty for the string form.</summary>
    public IReadOnlyDictionary<string, string> ChatTemplates { get; }

    /// <summary>The special tokens tokenizer_config.json names (<c>bos_token</c>, <c>eos_token</c>, <c>pad_token</c>, <c>unk_token</c>, …) → their text.</summary>
    public IReadOnlyDictionary<string, string> SpecialTokenTexts { get; }

    /// <inheritdoc />
    public int VocabSize { get; }

    /// <inheritdoc />
    public int BosId { get; }

    /// <inheritdoc />
    public int EosId { get; }

    /// <inheritdoc />
    public int PadId { get; }

    /// <summary>All added tokens (content → id); <see cref="Encode(string)"/> matches each one as a single id.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens => _added;

    /// <summary>The ids <see cref="Encode(string, bool)"/> puts before and after the text when asked for special tokens.</summary>
    public (IReadOnlyList<int> Prefix, IReadOnlyList<int> Suffix) SpecialTokenFrame => (_prefix, _suffix);

    /// <summary>The id of a token string (added token or vocabulary entry), or null.</summary>
    public int? TokenToId(string token) =>
        _added.TryGetValue(token, out var id) || _model.Vocab.TryGetValue(token, out id) ? id : null;

    /// <summary>The token string of an id (as stored in the vocabulary), or null for a gap.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

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
        bool first = true;
        foreach (var (raw, rawToken) in _rawAdded.Split(text))
        {
            if (rawToken is not null)
            {
                ids.Add(rawToken.Id);
                first = false;
                continue;
            }
            var normalized = _normalizer?.Normalize(raw) ?? raw;
            foreach (var (segment, token) in _normalizedAdded.Split(normalized))
            {
                if (token is not null) ids.Add(token.Id);
                else EncodeSegment(segment, first, ids);
                first = false;
            }
            first = false;
        }
        return ids.ToArray();
    }

    /// <inheritdoc />
    public int[] Encode(string text, bool addSpecialTokens) =>
        addSpecialTokens ? [.. _prefix, .. Encode(text), .. _suffix] : Encode(text);

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)VocabSize) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary (0..{VocabSize - 1})");
            if (skipSpecial && _table.IsSpecial(id)) continue;
            if (_tokens[id] is { } t) tokens.Add(t);
        }
        return _decoder is null ? string.Join(" ", tokens) : _decoder.Decode(tokens);
    }

    /// <inheritdoc />
    public byte[] TokenBytes(int id) => _table.TokenBytes(id);

    /// <inheritdoc />
    public bool IsSpecial(int id) => _table.IsSpecial(id);

    private void EncodeSegment(string segment, bool first, List<int> ids)
    {
        if (segment.Length == 0) return;
        if (_preTokenizer is null)
        {
            _model.Encode(segment, ids);
            return;
        }
        var pieces = new List<Piece>();
        _preTokenizer.Split(new Piece(segment, first), pieces);
        foreach (var piece in pieces) _model.Encode(piece.Text, ids);
    }

    /// <summary>
    /// The bytes one vocabulary token stands for on its own (what a streaming decoder appends): the byte-level alphabet
    /// mapped back, a <c>&lt;0xNN&gt;</c> byte, or the token text with the decoder's replacements (▁ → space) applied.
    /// </summary>
    private byte[] StandaloneBytes(string token)
    {
        if (_preTokenizer?.IsByteLevel == true) return HfDecoder.ByteLevelBytes(token);
        if (_model.ByteFallback && HfDecoder.FallbackByte(token) is int b and >= 0) return [(byte)b];
        if (_decoder is null) return Encoding.UTF8.GetBytes(token);
        // Decode "x" + token and drop the "x": position-dependent steps (strip the first space) then leave the token alone.
        var text = _decoder.Decode(["x", token]);
        return Encoding.UTF8.GetBytes(text.StartsWith('x') ? text[1..] : text);
    }

    private int? Resolve(string? configured, string key)
    {
        if (configured is null) return null;
        return TokenToId(configured) ?? throw new ArgumentException($"{ConfigFile}: {key} '{configured}' is not in the vocabulary");
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
}
