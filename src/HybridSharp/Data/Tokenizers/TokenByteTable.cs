using System.Runtime.InteropServices;
using System.Text;

namespace HybridSharp.Data.Tokenizers;

/// <summary>
/// The id → bytes and id → special tables a byte-level tokenizer decodes with: the shared half of
/// <see cref="HfBpeTokenizer"/> and <see cref="TiktokenTokenizerAdapter"/>. An id without bytes (a gap in the
/// vocabulary) decodes to nothing.
/// </summary>
internal sealed class TokenByteTable
{
    private readonly byte[]?[] _bytes;
    private readonly bool[] _special;

    /// <summary>Takes the tables as they are (same length; the table owns them from here on).</summary>
    public TokenByteTable(byte[]?[] bytes, bool[] special)
    {
        if (bytes.Length != special.Length)
            throw new ArgumentException($"token tables differ in length ({bytes.Length} bytes, {special.Length} special flags)");
        _bytes = bytes;
        _special = special;
    }

    /// <summary>Number of ids (the largest id + 1).</summary>
    public int Count => _bytes.Length;

    /// <summary>UTF-8 text of the concatenated bytes of <paramref name="ids"/> (special tokens dropped when asked).</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecial)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var buffer = new List<byte>();
        foreach (var id in ids)
        {
            CheckId(id, nameof(ids));
            if (skipSpecial && _special[id]) continue;
            var b = _bytes[id];
            if (b is not null) buffer.AddRange(b);
        }
        return Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(buffer));
    }

    /// <summary>The bytes of one token (empty for a gap).</summary>
    public byte[] TokenBytes(int id)
    {
        CheckId(id, nameof(id));
        return _bytes[id] ?? [];
    }

    /// <summary>Whether <paramref name="id"/> is a special token (false for ids outside the vocabulary).</summary>
    public bool IsSpecial(int id) => id >= 0 && id < _special.Length && _special[id];

    private void CheckId(int id, string param)
    {
        if ((uint)id >= (uint)_bytes.Length)
            throw new ArgumentOutOfRangeException(param, $"token id {id} is outside the vocabulary (0..{_bytes.Length - 1})");
    }
}
