using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace HybridSharp.Data.Corpus;

/// <summary>
/// Read-only, memory-mapped view of a token shard written by <see cref="TokenShardWriter"/>. The header is validated on
/// open; token windows are copied out with <see cref="ReadTokens(long, Span{int})"/>. Reads are thread-safe; the OS pages
/// data in on demand, so opening a large shard costs no memory up front.
/// </summary>
public sealed unsafe class TokenShard : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _tokens;

    private TokenShard(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, TokenShardFormat.Header header)
    {
        Path = path;
        _map = map;
        _view = view;
        TokenWidth = header.TokenWidth;
        Count = header.Count;
        VocabSize = header.VocabSize;
        byte* basePtr = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        _tokens = basePtr + _view.PointerOffset + TokenShardFormat.HeaderSize;
    }

    /// <summary>Full path of the shard file.</summary>
    public string Path { get; }

    /// <summary>Number of tokens in the shard.</summary>
    public long Count { get; }

    /// <summary>Bytes per stored token: 2 (uint16) or 4 (uint32).</summary>
    public int TokenWidth { get; }

    /// <summary>Vocabulary size recorded by the writer (0 if unknown).</summary>
    public int VocabSize { get; }

    /// <summary>Opens and validates a shard. Throws <see cref="FileNotFoundException"/> or <see cref="InvalidDataException"/>.</summary>
    public static TokenShard Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"Token shard '{full}' does not exist.", full);

        var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            long length = stream.Length;
            Span<byte> header = stackalloc byte[TokenShardFormat.HeaderSize];
            int got = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            var parsed = TokenShardFormat.ReadHeader(header[..got], length, full);
            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            return new TokenShard(full, map, view, parsed);
        }
        catch
        {
            view?.Dispose();
            if (map is not null) map.Dispose(); else stream.Dispose();
            throw;
        }
    }

    /// <summary>Token id at <paramref name="index"/>.</summary>
    public int this[long index]
    {
        get
        {
            Span<int> one = stackalloc int[1];
            ReadTokens(index, one);
            return one[0];
        }
    }

    /// <summary>Copies <c>dest.Length</c> tokens starting at <paramref name="start"/> into <paramref name="dest"/>.</summary>
    public void ReadTokens(long start, Span<int> dest)
    {
        byte* src = Locate(start, dest.Length);
        if (TokenWidth == 2)
        {
            var ids = new ReadOnlySpan<ushort>(src, dest.Length);
            for (int i = 0; i < ids.Length; i++) dest[i] = BitConverter.IsLittleEndian ? ids[i] : BinaryPrimitives.ReverseEndianness(ids[i]);
        }
        else
        {
            var ids = new ReadOnlySpan<int>(src, dest.Length);
            if (BitConverter.IsLittleEndian) ids.CopyTo(dest);
            else for (int i = 0; i < ids.Length; i++) dest[i] = BinaryPrimitives.ReverseEndianness(ids[i]);
        }
    }

    /// <summary>Copies <c>dest.Length</c> tokens starting at <paramref name="start"/> into <paramref name="dest"/> as int64 (the tensor index type).</summary>
    public void ReadTokens(long start, Span<long> dest)
    {
        byte* src = Locate(start, dest.Length);
        if (TokenWidth == 2)
        {
            var ids = new ReadOnlySpan<ushort>(src, dest.Length);
            for (int i = 0; i < ids.Length; i++) dest[i] = BitConverter.IsLittleEndian ? ids[i] : BinaryPrimitives.ReverseEndianness(ids[i]);
        }
        else
        {
            var ids = new ReadOnlySpan<uint>(src, dest.Length);
            for (int i = 0; i < ids.Length; i++) dest[i] = BitConverter.IsLittleEndian ? ids[i] : BinaryPrimitives.ReverseEndianness(ids[i]);
        }
    }

    /// <summary>Reads <paramref name="length"/> tokens starting at <paramref name="start"/> into a new array.</summary>
    public int[] ReadTokens(long start, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var result = new int[length];
        ReadTokens(start, result.AsSpan());
        return result;
    }

    /// <summary>Releases the mapping and the file handle.</summary>
    public void Dispose()
    {
        if (_tokens is null) return;
        _tokens = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    private byte* Locate(long start, int length)
    {
        ObjectDisposedException.ThrowIf(_tokens is null, this);
        if (start < 0 || start > Count || length > Count - start)
            throw new ArgumentOutOfRangeException(nameof(start),
                $"window [{start}, {start + length}) is outside token shard '{Path}' of {Count} tokens");
        return _tokens + start * TokenWidth;
    }
}
