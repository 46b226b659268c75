using System.Text.Json.Nodes;
using HybridSharp.Data;
using HybridSharp.Data.Tokenizers;
using Xunit;

namespace HybridSharp.Tests.Tokenizers;

public class TokenizerKindsTests
{
    [Fact]
    public void CreatesEachKind()
    {
        Assert.IsType<ByteTokenizer>(TokenizerKinds.Create("byte"));
        using var dir = new TempDir();
        File.WriteAllText(dir["tokenizer.json"], BpeFixture.TokenizerJson());
        var hf = Assert.IsType<HfBpeTokenizer>(TokenizerKinds.Create("hf", dir.Path));
        Assert.Equal([BpeFixture.SpaceThe], hf.Encode(" the"));
        var tt = Assert.IsType<TiktokenTokenizerAdapter>(TokenizerKinds.Create("tiktoken:r50k_base"));
        Assert.Equal("r50k_base", tt.EncodingName);
    }

    [Fact]
    public void KindOfInvertsCreate()
    {
        Assert.Equal("byte", TokenizerKinds.KindOf(new ByteTokenizer()));
        Assert.Equal("hf", TokenizerKinds.KindOf(HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(), null)));
        Assert.Equal("tiktoken:cl100k_base", TokenizerKinds.KindOf(TiktokenTokenizerAdapterTests.Cl100k.Value));
        Assert.Contains("tiktoken:o200k_base", TokenizerKinds.All);
    }

    [Theory]
    [InlineData("sentencepiece", "unknown tokenizer kind 'sentencepiece'")]
    [InlineData("tiktoken:p50k_base", "unknown tiktoken encoding 'p50k_base'")]
    [InlineData("hf", "needs a directory")]
    public void BadKindsAreClearErrors(string kind, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => TokenizerKinds.Create(kind, null));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void HfKindWithoutTokenizerJsonNamesThePath()
    {
        using var dir = new TempDir();
        var ex = Assert.Throws<FileNotFoundException>(() => TokenizerKinds.Create("hf", dir.Path));
        Assert.Contains(dir["tokenizer.json"], ex.Message);
    }

    [Fact]
    public void DetectAndLoad()
    {
        using var empty = new TempDir();
        Assert.Null(TokenizerKinds.Detect(empty.Path));
        Assert.IsType<ByteTokenizer>(TokenizerKinds.Load(empty.Path));

        using var hfDir = new TempDir();
        HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(), BpeFixture.ConfigJson()).Save(hfDir.Path);
        Assert.Equal("hf", TokenizerKinds.Detect(hfDir.Path));
        Assert.IsType<HfBpeTokenizer>(TokenizerKinds.Load(hfDir.Path));

        using var ttDir = new TempDir();
        TiktokenTokenizerAdapterTests.Cl100k.Value.Save(ttDir.Path);
        var config = JsonNode.Parse(File.ReadAllText(ttDir["tokenizer_config.json"]))!;
        Assert.Equal("tiktoken:cl100k_base", (string?)config["hybridsharp_tokenizer"]);
        Assert.Equal("<|endoftext|>", (string?)config["eos_token"]);
        Assert.Equal("tiktoken:cl100k_base", TokenizerKinds.Detect(ttDir.Path));
        var loaded = Assert.IsType<TiktokenTokenizerAdapter>(TokenizerKinds.Load(ttDir.Path));
        Assert.Equal([15339, 1917], loaded.Encode("hello world"));
    }

    [Fact]
    public void DetectRejectsBrokenConfig()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["tokenizer_config.json"], "{ not json");
        var ex = Assert.Throws<InvalidDataException>(() => TokenizerKinds.Detect(dir.Path));
        Assert.Contains("tokenizer_config.json", ex.Message);
    }
}
