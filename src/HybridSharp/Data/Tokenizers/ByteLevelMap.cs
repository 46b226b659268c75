namespace HybridSharp.Data.Tokenizers;

/// <summary>
/// The GPT-2 byte-level alphabet: every byte 0..255 is written as one printable character so that byte-level BPE
/// vocabularies (GPT-2, Llama 3, Qwen2, ...) can store arbitrary bytes in JSON strings. Printable Latin-1 bytes
/// ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the remaining 68 bytes map, in byte order, to U+0100 onwards
/// (so a space is 'Ġ' U+0120 and a newline 'Ċ' U+010A).
/// </summary>
public static class ByteLevelMap
{
    private static readonly char[] ByteToCharTable = BuildByteToChar();
    private static readonly short[] CharToByteTable = BuildCharToByte(ByteToCharTable);

    /// <summary>The character that stands for <paramref name="b"/>.</summary>
    public static char ToChar(byte b) => ByteToCharTable[b];

    /// <summary>The byte <paramref name="c"/> stands for, or -1 when <paramref name="c"/> is not in the alphabet.</summary>
    public static int ToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    /// <summary>Writes <paramref name="bytes"/> in the byte-level alphabet (one character per byte).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = bytes.Length <= 512 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToCharTable[bytes[i]];
        return new string(chars);
    }

    /// <summary>
    /// The bytes a byte-level token string stands for. Characters outside the alphabet (which only occur in
    /// tokens that were never byte-level encoded) contribute their own UTF-8 bytes.
    /// </summary>
    public static byte[] Decode(string token)
    {
        bool plain = true;
        foreach (var c in token)
        {
            if (ToByte(c) < 0) { plain = false; break; }
        }
        if (plain)
        {
            var result = new byte[token.Length];
            for (int i = 0; i < token.Length; i++) result[i] = (byte)CharToByteTable[token[i]];
            return result;
        }
        var bytes = new List<byte>(token.Length * 2);
        Span<byte> buf = stackalloc byte[4];
        for (int i = 0; i < token.Length; i++)
        {
            int b = ToByte(token[i]);
            if (b >= 0) { bytes.Add((byte)b); continue; }
            int len = char.IsHighSurrogate(token[i]) && i + 1 < token.Length && char.IsLowSurrogate(token[i + 1]) ? 2 : 1;
            int n = System.Text.Encoding.UTF8.GetBytes(token.AsSpan(i, len), buf);
            for (int k = 0; k < n; k++) bytes.Add(buf[k]);
            i += len - 1;
        }
        return bytes.ToArray();
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + next++);
        }
        return map;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var table = new short[256 + 68];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++) table[byteToChar[b]] = (short)b;
        return table;
    }
}
