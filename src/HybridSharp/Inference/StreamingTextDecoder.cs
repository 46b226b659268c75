using System.Text;
using HybridSharp.Data;

namespace HybridSharp.Inference;

/// <summary>
/// Turns a stream of token ids into text pieces that never split a UTF-8 character: token bytes go through a
/// stateful UTF-8 decoder, which holds back an incomplete multi-byte sequence until its last byte arrives.
/// </summary>
public sealed class StreamingTextDecoder(ITokenizer tokenizer, bool skipSpecial = true)
{
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly char[] _chars = new char[64];

    /// <summary>Text completed by this token (possibly empty).</summary>
    public string Push(int id)
    {
        if (skipSpecial && tokenizer.IsSpecial(id)) return "";
        var bytes = tokenizer.TokenBytes(id);
        var chars = bytes.Length + 4 <= _chars.Length ? _chars : new char[bytes.Length + 4];
        int n = _utf8.GetChars(bytes, 0, bytes.Length, chars, 0, flush: false);
        return new string(chars, 0, n);
    }

    /// <summary>Flushes whatever is pending at the end of generation (an incomplete sequence becomes U+FFFD).</summary>
    public string Flush()
    {
        int n = _utf8.GetChars([], 0, 0, _chars, 0, flush: true);
        return new string(_chars, 0, n);
    }
}
