using HybridSharp.Data.Corpus;
using Xunit;

namespace HybridSharp.Tests.Data;

public sealed class TokenShardTests
{
    [Theory]
    [InlineData(261, 2)]
    [InlineData(65536, 2)]
    [InlineData(65537, 4)]
    [InlineData(100_000, 4)]
    public void TokenWidthFollowsVocabularySize(int vocab, int width) =>
        Assert.Equal(width, TokenShardFormat.TokenWidthFor(vocab));

    [Fact]
    public void RoundTripsUInt16Shard()
    {
        using var tmp = new CorpusTestDirectory();
        var rng = new Random(1);
        var tokens = Enumerable.Range(0, 150_000).Select(_ => rng.Next(261)).ToArray(); // spans several writer buffers
        tokens[0] = 260;
        var path = tmp.File("a.bin");

        TokenShardWriter.WriteAll(path, 261, tokens);

        Assert.Equal(TokenShardFormat.HeaderSize + tokens.Length * 2L, new FileInfo(path).Length);
        using var shard = TokenShard.Open(path);
        Assert.Equal(tokens.Length, shard.Count);
        Assert.Equal(2, shard.TokenWidth);
        Assert.Equal(261, shard.VocabSize);
        Assert.Equal(tokens, shard.ReadTokens(0, tokens.Length));
        Assert.Equal(tokens[70_000..70_010], shard.ReadTokens(70_000, 10));
        var wide = new long[5];
        shard.ReadTokens(tokens.Length - 5, wide);
        Assert.Equal(tokens[^5..].Select(t => (long)t), wide);
        Assert.Equal(tokens[123], shard[123]);
    }

    [Fact]
    public void RoundTripsUInt32Shard()
    {
        const int vocab = 100_000;
        using var tmp = new CorpusTestDirectory();
        int[] tokens = [0, 1, 65_535, 65_536, 70_000, vocab - 1, 42];
        var path = tmp.File("wide.bin");

        using (var writer = new TokenShardWriter(path, vocab))
        {
            writer.Write(tokens.AsSpan(0, 3));
            foreach (var t in tokens[3..]) writer.Write(t);
            Assert.Equal(tokens.Length, writer.Count);
            writer.Commit();
        }

        using var shard = TokenShard.Open(path);
        Assert.Equal(4, shard.TokenWidth);
        Assert.Equal(tokens.Length, shard.Count);
        Assert.Equal(tokens, shard.ReadTokens(0, tokens.Length));
        var wide = new long[tokens.Length];
        shard.ReadTokens(0, wide);
        Assert.Equal(tokens.Select(t => (long)t), wide);
    }

    [Fact]
    public void EmptyShardRoundTrips()
    {
        using var tmp = new CorpusTestDirectory();
        TokenShardWriter.WriteAll(tmp.File("empty.bin"), 261, []);
        using var shard = TokenShard.Open(tmp.File("empty.bin"));
        Assert.Equal(0, shard.Count);
        Assert.Empty(shard.ReadTokens(0, 0));
    }

    [Fact]
    public void ReadOutsideShardThrows()
    {
        using var tmp = new CorpusTestDirectory();
        TokenShardWriter.WriteAll(tmp.File("s.bin"), 261, [1, 2, 3]);
        using var shard = TokenShard.Open(tmp.File("s.bin"));
        Assert.Throws<ArgumentOutOfRangeException>(() => shard.ReadTokens(2, new int[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => shard.ReadTokens(-1, new int[1]));
    }

    [Fact]
    public void TruncatedShardIsRejected()
    {
        using var tmp = new CorpusTestDirectory();
        var path = tmp.File("trunc.bin");
        TokenShardWriter.WriteAll(path, 261, [5, 6, 7, 8]);
        using (var fs = new FileStream(path, FileMode.Open)) fs.SetLength(fs.Length - 1);

        var ex = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("trunc.bin", ex.Message);
        Assert.Contains("truncated", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);

        File.WriteAllBytes(path, new byte[10]);
        ex = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("shorter than the 32-byte header", ex.Message);
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        using var tmp = new CorpusTestDirectory();
        var path = tmp.File("long.bin");
        TokenShardWriter.WriteAll(path, 261, [5, 6]);
        using (var fs = new FileStream(path, FileMode.Append)) fs.WriteByte(0);

        var ex = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("length mismatch", ex.Message);
    }

    [Fact]
    public void BadMagicIsRejected()
    {
        using var tmp = new CorpusTestDirectory();
        var path = tmp.File("magic.bin");
        TokenShardWriter.WriteAll(path, 261, [1, 2]);
        var bytes = File.ReadAllBytes(path);
        bytes[0] = (byte)'X';
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<InvalidDataException>(() => TokenShard.Open(path));
        Assert.Contains("magic.bin", ex.Message);
        Assert.Contains("bad magic", ex.Message);
    }

    [Fact]
    public void MissingShardThrowsFileNotFound()
    {
        using var tmp = new CorpusTestDirectory();
        var ex = Assert.Throws<FileNotFoundException>(() => TokenShard.Open(tmp.File("none.bin")));
        Assert.Equal(tmp.File("none.bin"), ex.FileName);
    }

    [Fact]
    public void WriterRejectsIdsOutsideVocabulary()
    {
        using var tmp = new CorpusTestDirectory();
        using var writer = new TokenShardWriter(tmp.File("x.bin"), 261);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(261));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(-1));
    }

    [Fact]
    public void UncommittedWriterLeavesNothingBehind()
    {
        using var tmp = new CorpusTestDirectory();
        File.WriteAllText(tmp.File("keep.bin"), "old");
        using (var writer = new TokenShardWriter(tmp.File("keep.bin"), 261))
        {
            writer.Write([1, 2, 3]);
        }
        Assert.Equal("old", File.ReadAllText(tmp.File("keep.bin")));
        Assert.Single(Directory.GetFiles(tmp.Path));
    }
}
