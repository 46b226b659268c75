using System.Buffers.Binary;

namespace HybridSharp.Data.Corpus;

/// <summary>
/// Streams token ids into a shard file (see <see cref="TokenShardFormat"/>). Tokens go to a temporary sibling file
/// through a fixed-size buffer, so memory stays constant however large the shard; <see cref="Commit"/> writes the final
/// header, flushes to disk and renames the file into place. Disposing without committing deletes the temporary file
/// and leaves any existing file at the target path untouched.
/// </summary>
public sealed class TokenShardWriter : IDisposable
{
    private const int BufferTokens = 64 * 1024;

    private readonly string _tempPath;
    private readonly byte[] _buffer;
    private FileStream? _stream;
    private int _buffered;
    private bool _committed;

    /// <summary>Starts a shard at <paramref name="path"/> for ids in [0, <paramref name="vocabSize"/>).</summary>
    public TokenShardWriter(string path, int vocabSize)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        TokenWidth = TokenShardFormat.TokenWidthFor(vocabSize);
        VocabSize = vocabSize;
        Path = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(dir);
        _tempPath = System.IO.Path.Combine(dir,
            "." + System.IO.Path.GetFileName(Path) + "." + Environment.ProcessId + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        _buffer = new byte[BufferTokens * TokenWidth];
        _stream = new FileStream(_tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        try
        {
            Span<byte> header = stackalloc byte[TokenShardFormat.HeaderSize];
            TokenShardFormat.WriteHeader(header, TokenWidth, 0, VocabSize);
            _stream.Write(header);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Final path of the shard.</summary>
    public string Path { get; }

    /// <summary>Bytes per stored token (2 or 4).</summary>
    public int TokenWidth { get; }

    /// <summary>Vocabulary size the shard is written for; every id must be below it.</summary>
    public int VocabSize { get; }

    /// <summary>Tokens written so far.</summary>
    public long Count { get; private set; }

    /// <summary>Appends one token id.</summary>
    public void Write(int token) => Write([token]);

    /// <summary>Appends token ids.</summary>
    public void Write(ReadOnlySpan<int> tokens)
    {
        var stream = _stream ?? throw new ObjectDisposedException(nameof(TokenShardWriter), _committed ? "the shard was already committed" : null);
        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {id} is outside the vocabulary (0..{VocabSize - 1}) of shard '{Path}'");
        }
        while (!tokens.IsEmpty)
        {
            int take = Math.Min(tokens.Length, BufferTokens - _buffered);
            var dest = _buffer.AsSpan(_buffered * TokenWidth);
            if (TokenWidth == 2)
                for (int i = 0; i < take; i++) BinaryPrimitives.WriteUInt16LittleEndian(dest[(i * 2)..], (ushort)tokens[i]);
            else
                for (int i = 0; i < take; i++) BinaryPrimitives.WriteUInt32LittleEndian(dest[(i * 4)..], (uint)tokens[i]);
            _buffered += take;
            Count += take;
            tokens = tokens[take..];
            if (_buffered == BufferTokens) FlushBuffer(stream);
        }
    }

    /// <summary>Finishes the shard: writes the header's token count, flushes to disk and renames it to <see cref="Path"/>.</summary>
    public void Commit()
    {
        var stream = _stream ?? throw new ObjectDisposedException(nameof(TokenShardWriter), _committed ? "the shard was already committed" : null);
        FlushBuffer(stream);
        Span<byte> header = stackalloc byte[TokenShardFormat.HeaderSize];
        TokenShardFormat.WriteHeader(header, TokenWidth, Count, VocabSize);
        stream.Position = 0;
        stream.Write(header);
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        _stream = null;
        try
        {
            File.Move(_tempPath, Path, overwrite: true);
            _committed = true;
        }
        catch
        {
            TryDeleteTemp();
            throw;
        }
    }

    /// <summary>Closes the writer; an uncommitted shard is discarded.</summary>
    public void Dispose()
    {
        if (_stream is null) return;
        _stream.Dispose();
        _stream = null;
        if (!_committed) TryDeleteTemp();
    }

    /// <summary>Writes a whole shard in one call (convenience for small shards and tests).</summary>
    public static void WriteAll(string path, int vocabSize, ReadOnlySpan<int> tokens)
    {
        using var writer = new TokenShardWriter(path, vocabSize);
        writer.Write(tokens);
        writer.Commit();
    }

    private void FlushBuffer(FileStream stream)
    {
        if (_buffered == 0) return;
        stream.Write(_buffer, 0, _buffered * TokenWidth);
        _buffered = 0;
    }

    private void TryDeleteTemp()
    {
        try { File.Delete(_tempPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
