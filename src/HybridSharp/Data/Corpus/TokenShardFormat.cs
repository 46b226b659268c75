using System.Buffers.Binary;

namespace HybridSharp.Data.Corpus;

/// <summary>
/// The on-disk layout of a token shard (<c>*.bin</c>). A 32-byte little-endian header followed by the token ids:
/// <code>
/// offset  size  field
///      0     8  magic "HSTOK1\0\0"
///      8     4  format version (uint32, currently 1)
///     12     4  token width in bytes (uint32: 2 = uint16 ids, 4 = uint32 ids)
///     16     8  token count (int64)
///     24     4  vocabulary size the ids were written for (int32; 0 = unknown)
///     28     4  reserved (zero)
///     32   ...  token ids, little-endian, <c>width</c> bytes each
/// </code>
/// </summary>
public static class TokenShardFormat
{
    /// <summary>Size of the fixed header in bytes.</summary>
    public const int HeaderSize = 32;

    /// <summary>Current format version.</summary>
    public const uint Version = 1;

    /// <summary>The 8 magic bytes every shard starts with.</summary>
    public static ReadOnlySpan<byte> Magic => "HSTOK1\0\0"u8;

    /// <summary>Bytes per token for a vocabulary: 2 (uint16) when every id fits, otherwise 4 (uint32).</summary>
    public static int TokenWidthFor(int vocabSize)
    {
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize), $"vocabulary size must be positive, got {vocabSize}");
        return vocabSize <= 65536 ? 2 : 4;
    }

    internal static void WriteHeader(Span<byte> header, int tokenWidth, long count, int vocabSize)
    {
        header[..HeaderSize].Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)tokenWidth);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], count);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], vocabSize);
    }

    /// <summary>Parsed header fields.</summary>
    internal readonly record struct Header(int TokenWidth, long Count, int VocabSize);

    /// <summary>Validates a header against the file's length; throws <see cref="InvalidDataException"/> naming <paramref name="path"/>.</summary>
    internal static Header ReadHeader(ReadOnlySpan<byte> header, long fileLength, string path)
    {
        if (fileLength < HeaderSize || header.Length < HeaderSize)
            throw Invalid(path, $"truncated: {fileLength} bytes is shorter than the {HeaderSize}-byte header");
        if (!header[..Magic.Length].SequenceEqual(Magic))
            throw Invalid(path, "bad magic (not a HybridSharp token shard)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version != Version)
            throw Invalid(path, $"unsupported format version {version} (expected {Version})");
        uint width = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (width != 2 && width != 4)
            throw Invalid(path, $"invalid token width {width} (expected 2 or 4)");
        long count = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        if (count < 0 || count > (long.MaxValue - HeaderSize) / width)
            throw Invalid(path, $"invalid token count {count}");
        int vocab = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
        if (vocab < 0)
            throw Invalid(path, $"invalid vocabulary size {vocab}");
        long expected = count * width, payload = fileLength - HeaderSize;
        if (payload < expected)
            throw Invalid(path, $"truncated: header says {count} tokens ({expected} bytes) but only {payload} bytes follow the header");
        if (payload > expected)
            throw Invalid(path, $"length mismatch: header says {count} tokens ({expected} bytes) but {payload} bytes follow the header");
        return new Header((int)width, count, vocab);
    }

    private static InvalidDataException Invalid(string path, string problem) =>
        new($"Token shard '{path}' is invalid: {problem}.");
}
