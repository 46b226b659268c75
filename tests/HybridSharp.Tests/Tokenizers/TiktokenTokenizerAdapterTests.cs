using System.Text;
using HybridSharp.Data.Tokenizers;
using Xunit;

namespace HybridSharp.Tests.Tokenizers;

public class TiktokenTokenizerAdapterTests
{
    internal static readonly Lazy<TiktokenTokenizerAdapter> Cl100k = new(() => new TiktokenTokenizerAdapter("cl100k_base"));

    [Fact]
    public void Cl100kKnownEncoding()
    {
        var tok = Cl100k.Value;
        Assert.Equal([15339, 1917], tok.Encode("hello world"));
        Assert.Equal("hello world", tok.Decode([15339, 1917]));
        Assert.Equal([100257], tok.Encode("<|endoftext|>"));
        Assert.Equal(100277, tok.VocabSize);
        Assert.Equal(100257, tok.EosId);
        Assert.Equal(100257, tok.BosId);
        Assert.Equal(100257, tok.PadId);
        Assert.True(tok.IsSpecial(100257));
        Assert.False(tok.IsSpecial(15339));
        Assert.Equal(100276, tok.SpecialTokens["<|endofprompt|>"]);
    }

    [Theory]
    [InlineData("Hello world")]
    [InlineData("a  b   c\n\n\tindented\r\n")]
    [InlineData("café 中文字符 🙂👍🏽")]
    [InlineData("text<|endoftext|>more<|endoftext|>")]
    public void Cl100kRoundTripsAndTokenBytesMatchUtf8(string text)
    {
        var tok = Cl100k.Value;
        var ids = tok.Encode(text);
        Assert.Equal(text, tok.Decode(ids));
        Assert.Equal(Encoding.UTF8.GetBytes(text), ids.SelectMany(tok.TokenBytes).ToArray());
        Assert.Equal(text, tok.Inner.Decode(ids));
    }

    [Fact]
    public void DecodeSkipsSpecialTokens()
    {
        var tok = Cl100k.Value;
        Assert.Equal("ab", tok.Decode(tok.Encode("a<|endoftext|>b"), skipSpecial: true));
    }

    [Fact]
    public void PartialUtf8TokenBytesAreRaw()
    {
        var tok = Cl100k.Value;
        // An emoji takes several byte tokens in cl100k; no single token's bytes decode to it alone.
        var ids = tok.Encode("🙂");
        Assert.True(ids.Length > 1);
        Assert.Equal(Encoding.UTF8.GetBytes("🙂"), ids.SelectMany(tok.TokenBytes).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.TokenBytes(tok.VocabSize));
    }

    [Theory]
    [InlineData("r50k_base", new[] { 31373, 995 }, 50257)]
    [InlineData("gpt2", new[] { 31373, 995 }, 50257)]
    [InlineData("o200k_base", new[] { 24912, 2375 }, 200019)]
    public void OtherEncodings(string encoding, int[] helloWorld, int vocabSize)
    {
        var tok = new TiktokenTokenizerAdapter(encoding);
        Assert.Equal(helloWorld, tok.Encode("hello world"));
        Assert.Equal(vocabSize, tok.VocabSize);
        Assert.Equal(tok.SpecialTokens["<|endoftext|>"], tok.EosId);
        const string text = "mixed 中文 🙂 text<|endoftext|>";
        var ids = tok.Encode(text);
        Assert.Equal(text, tok.Decode(ids));
        Assert.Equal(Encoding.UTF8.GetBytes(text), ids.SelectMany(tok.TokenBytes).ToArray());
    }

    [Fact]
    public void UnknownEncodingIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TiktokenTokenizerAdapter("p50k_base"));
        Assert.Contains("p50k_base", ex.Message);
        Assert.Contains("cl100k_base", ex.Message);
    }
}
