using System.Text;

namespace HybridSharp.Data;

/// <summary>
/// Byte-level tokenizer: ids 0..255 are raw bytes, followed by special tokens
/// <c>&lt;|bos|&gt;</c>, <c>&lt;|eos|&gt;</c>, <c>&lt;|pad|&gt;</c>, <c>&lt;|im_start|&gt;</c>, <c>&lt;|im_end|&gt;</c>.
/// Needs no files, so it is the embedded default. Every string round-trips exactly.
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    public const string Bos = "<|bos|>", Eos = "<|eos|>", Pad = "<|pad|>", ImStart = "<|im_start|>", ImEnd = "<|im_end|>";
    public static readonly string[] SpecialTokenTexts = [Bos, Eos, Pad, ImStart, ImEnd];

    private readonly Dictionary<string, int> _special;
    private readonly byte[][] _bytes;

    public ByteTokenizer()
    {
        _special = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < SpecialTokenTexts.Length; i++) _special[SpecialTokenTexts[i]] = 256 + i;
        _bytes = new byte[VocabSize][];
        for (int i = 0; i < 256; i++) _bytes[i] = [(byte)i];
        foreach (var (text, id) in _special) _bytes[id] = Encoding.UTF8.GetBytes(text);
    }

    public int VocabSize => 256 + SpecialTokenTexts.Length;
    public int BosId => 256;
    public int EosId => 257;
    public int PadId => 258;
    public int ImStartId => 259;
    public int ImEndId => 260;
    public IReadOnlyDictionary<string, int> SpecialTokens => _special;

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length + 8);
        int pos = 0;
        while (pos < text.Length)
        {
            int next = text.IndexOf("<|", pos, StringComparison.Ordinal);
            if (next < 0) next = text.Length;
            AppendBytes(ids, text.AsSpan(pos, next - pos));
            if (next >= text.Length) break;
            var matched = false;
            foreach (var (s, id) in _special)
            {
                if (string.CompareOrdinal(text, next, s, 0, s.Length) == 0)
                {
                    ids.Add(id);
                    pos = next + s.Length;
                    matched = true;
                    break;
                }
            }
            if (!matched)
            {
                AppendBytes(ids, text.AsSpan(next, 2));
                pos = next + 2;
            }
        }
        return ids.ToArray();
    }

    private static void AppendBytes(List<int> ids, ReadOnlySpan<char> chars)
    {
        if (chars.IsEmpty) return;
        Span<byte> buf = chars.Length <= 256 ? stackalloc byte[chars.Length * 3] : new byte[Encoding.UTF8.GetMaxByteCount(chars.Length)];
        int n = Encoding.UTF8.GetBytes(chars, buf);
        for (int i = 0; i < n; i++) ids.Add(buf[i]);
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecial = false)
    {
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            if (id < 0 || id >= VocabSize) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary (0..{VocabSize - 1})");
            if (skipSpecial && id >= 256) continue;
            bytes.AddRange(_bytes[id]);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public byte[] TokenBytes(int id) => _bytes[id];

    public bool IsSpecial(int id) => id >= 256 && id < VocabSize;
}
