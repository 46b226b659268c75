using System.Text;

namespace HybridSharp.Data;

/// <summary>
/// Reading text files as UTF-8 strictly: invalid bytes are an error that names the byte offset, not a silent U+FFFD
/// (unless a reader is asked to replace them).
/// </summary>
public static class Utf8Text
{
    /// <summary>UTF-8 without a BOM on write, throwing on invalid bytes when reading.</summary>
    public static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>UTF-8 that replaces invalid bytes with U+FFFD.</summary>
    public static readonly UTF8Encoding Replacing = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>The error for a file that is not valid UTF-8: file, byte offset (0-based) and line.</summary>
    public static InvalidDataException InvalidError(string path, string? hint = null)
    {
        var (offset, line) = FirstInvalidByte(path);
        return new InvalidDataException($"{path}: invalid UTF-8 at byte {offset} (line {line}){hint}");
    }

    /// <summary>Offset and 1-based line of the first byte that does not start a valid UTF-8 sequence (−1 when valid).</summary>
    public static (long Offset, long Line) FirstInvalidByte(string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 20];
        int kept = 0;
        long consumedBefore = 0, line = 1;
        while (true)
        {
            int read = stream.Read(buffer, kept, buffer.Length - kept);
            int length = kept + read;
            bool end = read == 0;
            int i = 0;
            while (i < length)
            {
                var status = System.Text.Rune.DecodeFromUtf8(buffer.AsSpan(i, length - i), out _, out int used);
                if (status == System.Buffers.OperationStatus.NeedMoreData && !end) break;
                if (status != System.Buffers.OperationStatus.Done) return (consumedBefore + i, line);
                if (buffer[i] == (byte)'\n') line++;
                i += used;
            }
            if (end) return (-1, line);
            kept = length - i;
            Array.Copy(buffer, i, buffer, 0, kept);
            consumedBefore += i;
        }
    }
}
