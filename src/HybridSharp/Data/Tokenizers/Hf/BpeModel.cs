using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using static HybridSharp.Data.Tokenizers.Hf.HfJson;

namespace HybridSharp.Data.Tokenizers.Hf;

/// <summary>
/// The BPE model of a tokenizer.json: byte-level vocabularies (GPT-2, Llama 3, Qwen) and SentencePiece-style ones
/// (Llama 2, Gemma) with <c>byte_fallback</c> (<c>&lt;0x..&gt;</c> tokens for characters outside the vocabulary),
/// <c>unk_token</c> / <c>fuse_unk</c>, <c>ignore_merges</c>, <c>continuing_subword_prefix</c> and
/// <c>end_of_word_suffix</c>; merges as <c>"a b"</c> strings or <c>["a", "b"]</c> pairs.
/// </summary>
/// <remarks>
/// A word starts as one symbol per code point; the adjacent pair with the lowest merge rank is merged (leftmost
/// first among equal ranks) until no pair has a rank — the order HF tokenizers merges in. Microsoft.ML.Tokenizers'
/// BPE has no byte fallback, so the merge loop lives here.
/// </remarks>
internal sealed class BpeModel
{
    private const int CacheLimit = 200_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;
    private readonly int? _unkId;
    private readonly bool _fuseUnk, _byteFallback, _ignoreMerges;
    private readonly string _prefix, _suffix;
    private readonly int[]? _byteIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    private BpeModel(Dictionary<string, int> vocab, Dictionary<(int, int), (int, int)> merges, int? unkId, bool fuseUnk, bool byteFallback,
        bool ignoreMerges, string prefix, string suffix)
    {
        _vocab = vocab;
        _merges = merges;
        _unkId = unkId;
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        _prefix = prefix;
        _suffix = suffix;
        if (byteFallback)
        {
            _byteIds = new int[256];
            for (int b = 0; b < 256; b++) _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out var id) ? id : -1;
        }
    }

    /// <summary>Token string → id of the model's vocabulary.</summary>
    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>True when characters outside the vocabulary become <c>&lt;0x..&gt;</c> byte tokens.</summary>
    public bool ByteFallback => _byteFallback;

    /// <summary>Reads the <c>model</c> element.</summary>
    public static BpeModel Read(JsonElement model, string source)
    {
        var type = GetString(model, "type");
        if (type is null && model.TryGetProperty("merges", out _)) type = "BPE";
        if (type != "BPE")
            throw new ArgumentException($"{source}: tokenizer model '{type ?? "(none)"}' is not supported (supported: BPE, byte-level or with byte_fallback)");
        if (!model.TryGetProperty("vocab", out var vocabEl) || vocabEl.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: model.vocab is missing or not an object");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocabEl.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var id) || id < 0)
                throw new InvalidDataException($"{source}: vocab entry '{p.Name}' has no valid id");
            vocab[p.Name] = id;
        }
        var prefix = GetString(model, "continuing_subword_prefix") ?? "";
        var merges = ReadMerges(model, vocab, prefix, source);
        int? unkId = null;
        if (GetString(model, "unk_token") is { } unk)
            unkId = vocab.TryGetValue(unk, out var u) ? u : throw new InvalidDataException($"{source}: unk_token '{unk}' is not in the vocabulary");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
            throw new ArgumentException($"{source}: BPE dropout is a training-time option and is not supported at encoding time");
        return new BpeModel(vocab, merges, unkId, GetBool(model, "fuse_unk") ?? false, GetBool(model, "byte_fallback") ?? false,
            GetBool(model, "ignore_merges") ?? false, prefix, GetString(model, "end_of_word_suffix") ?? "");
    }

    /// <summary>Appends the ids of one pre-tokenized piece.</summary>
    public void Encode(string piece, List<int> ids)
    {
        if (piece.Length == 0) return;
        if (_cache.TryGetValue(piece, out var cached))
        {
            ids.AddRange(cached);
            return;
        }
        var result = EncodeUncached(piece);
        if (_cache.Count >= CacheLimit) _cache.Clear();
        _cache[piece] = result;
        ids.AddRange(result);
    }

    private int[] EncodeUncached(string piece)
    {
        if (_ignoreMerges && _vocab.TryGetValue(piece, out var whole)) return [whole];

        // Initial symbols: one per code point (with prefix / suffix), byte tokens or unk for unknown characters.
        var symbols = new List<int>(piece.Length);
        int runes = 0, total = CountRunes(piece);
        bool lastWasUnk = false;
        foreach (var r in piece.EnumerateRunes())
        {
            var s = r.ToString();
            if (_prefix.Length > 0 && runes > 0) s = _prefix + s;
            if (_suffix.Length > 0 && runes == total - 1) s += _suffix;
            runes++;
            if (_vocab.TryGetValue(s, out var id))
            {
                symbols.Add(id);
                lastWasUnk = false;
                continue;
            }
            if (_byteFallback && TryBytes(r, symbols))
            {
                lastWasUnk = false;
                continue;
            }
            if (_unkId is int unk)
            {
                if (!(_fuseUnk && lastWasUnk)) symbols.Add(unk);
                lastWasUnk = true;
            }
        }
        return Merge(symbols);
    }

    private bool TryBytes(Rune r, List<int> symbols)
    {
        Span<byte> buf = stackalloc byte[4];
        int n = r.EncodeToUtf8(buf);
        for (int k = 0; k < n; k++) if (_byteIds![buf[k]] < 0) return false;
        for (int k = 0; k < n; k++) symbols.Add(_byteIds![buf[k]]);
        return true;
    }

    private int[] Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2) return [.. symbols];
        var id = symbols.ToArray();
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        var queue = new PriorityQueue<(int Pos, int Merged), (int Rank, int Pos)>();
        for (int i = 0; i + 1 < n; i++)
            if (_merges.TryGetValue((id[i], id[i + 1]), out var m)) queue.Enqueue((i, m.Merged), (m.Rank, i));
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            if (!alive[pos] || next[pos] < 0) continue;
            int right = next[pos];
            if (!_merges.TryGetValue((id[pos], id[right]), out var m) || m.Merged != top.Merged) continue;
            id[pos] = m.Merged;
            alive[right] = false;
            next[pos] = next[right];
            if (next[right] >= 0) prev[next[right]] = pos;
            if (prev[pos] >= 0 && _merges.TryGetValue((id[prev[pos]], id[pos]), out var left)) queue.Enqueue((prev[pos], left.Merged), (left.Rank, prev[pos]));
            if (next[pos] >= 0 && _merges.TryGetValue((id[pos], id[next[pos]]), out var after)) queue.Enqueue((pos, after.Merged), (after.Rank, pos));
        }
        var result = new List<int>(n);
        for (int i = 0; i >= 0 && i < n; i = next[i]) result.Add(id[i]);
        return [.. result];
    }

    private static int CountRunes(string s)
    {
        int count = 0;
        foreach (var _ in s.EnumerateRunes()) count++;
        return count;
    }

    private static Dictionary<(int, int), (int, int)> ReadMerges(JsonElement model, Dictionary<string, int> vocab, string prefix, string source)
    {
        var merges = new Dictionary<(int, int), (int, int)>();
        if (!model.TryGetProperty("merges", out var el) || el.ValueKind == JsonValueKind.Null) return merges;
        if (el.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{source}: model.merges is not an array");
        int rank = 0;
        foreach (var m in el.EnumerateArray())
        {
            string a, b;
            if (m.ValueKind == JsonValueKind.String)
            {
                var s = m.GetString()!;
                int sp = s.IndexOf(' ');
                if (sp <= 0 || sp == s.Length - 1 || s.IndexOf(' ', sp + 1) >= 0)
                    throw new InvalidDataException($"{source}: merge \"{s}\" is not of the form \"a b\"");
                (a, b) = (s[..sp], s[(sp + 1)..]);
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
            {
                (a, b) = (m[0].GetString()!, m[1].GetString()!);
                if (a.Length == 0 || b.Length == 0) throw new InvalidDataException($"{source}: merge pair {m.GetRawText()} has an empty part");
            }
            else throw new InvalidDataException($"{source}: merge {m.GetRawText()} is neither \"a b\" nor [\"a\", \"b\"]");
            if (!vocab.TryGetValue(a, out var ia) || !vocab.TryGetValue(b, out var ib))
                throw new InvalidDataException($"{source}: merge \"{a} {b}\" names a token that is not in the vocabulary");
            var mergedToken = prefix.Length > 0 && b.StartsWith(prefix, StringComparison.Ordinal) ? a + b[prefix.Length..] : a + b;
            if (!vocab.TryGetValue(mergedToken, out var merged))
                throw new InvalidDataException($"{source}: merge \"{a} {b}\" gives \"{mergedToken}\", which is not in the vocabulary");
            merges[(ia, ib)] = (rank, merged); // a repeated merge keeps its last rank, as HF does
            rank++;
        }
        return merges;
    }
}
