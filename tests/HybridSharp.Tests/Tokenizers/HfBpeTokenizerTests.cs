using System.Text;
using HybridSharp.Data.Tokenizers;
using Xunit;

namespace HybridSharp.Tests.Tokenizers;

public class HfBpeTokenizerTests
{
    private static readonly Lazy<HfBpeTokenizer> Shared = new(() => HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(), BpeFixture.ConfigJson()));
    private static HfBpeTokenizer Tok => Shared.Value;

    private static int Byte(char c) => Array.FindIndex(BpeFixture.Alphabet, a => a.Byte == (byte)c);

    private static readonly string[] Texts =
    [
        "",
        "Hello world",
        "a  b   c    d",
        "  leading and trailing  ",
        "line one\nline two\n\n\nend\n",
        "windows\r\nline\r\n",
        "tab\there\t\tand there",
        "café au lait, naïve résumé",
        "中文 and 中文字符",
        "emoji 🙂👍🏽 and flags 🇫🇷",
        "it's they're we'll I'd",
        "numbers 12345 and 3.14159",
        "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
        "a<|endoftext|>b<|endoftext|><|endoftext|>",
        "<think>\nreasoning\n</think>",
        "### header ## and #",
        "<|im_star not special <| |>",
    ];

    public static TheoryData<string> RoundTripTexts => new(Texts);

    [Theory]
    [MemberData(nameof(RoundTripTexts))]
    public void RoundTripsExactly(string text)
    {
        var ids = Tok.Encode(text);
        Assert.Equal(text, Tok.Decode(ids));
        Assert.All(ids, id => Assert.InRange(id, 0, Tok.VocabSize - 1));
    }

    [Theory]
    [MemberData(nameof(RoundTripTexts))]
    public void TokenBytesConcatenateToUtf8(string text)
    {
        var bytes = Tok.Encode(text).SelectMany(Tok.TokenBytes).ToArray();
        Assert.Equal(Encoding.UTF8.GetBytes(text), bytes);
    }

    [Fact]
    public void SpecialTokensAreSingleIds()
    {
        Assert.Equal([BpeFixture.ImStart, Byte('h'), Byte('i'), BpeFixture.ImEnd], Tok.Encode("<|im_start|>hi<|im_end|>"));
        Assert.Equal([Byte('a'), BpeFixture.EndOfText, Byte('b')], Tok.Encode("a<|endoftext|>b"));
        Assert.Equal([BpeFixture.Think], Tok.Encode("<think>"));

        var ids = Tok.Encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
        Assert.Equal(2, ids.Count(id => id == BpeFixture.ImStart));
        Assert.Equal(1, ids.Count(id => id == BpeFixture.ImEnd));
        Assert.DoesNotContain(Byte('|'), ids);
    }

    [Fact]
    public void MergesApply()
    {
        Assert.Equal([BpeFixture.SpaceThe], Tok.Encode(" the"));
        Assert.Equal([Byte('t'), BpeFixture.He], Tok.Encode("the"));
        Assert.Equal([BpeFixture.HashHash], Tok.Encode("##"));
        Assert.Equal([Byte('a'), BpeFixture.TwoNewlines, Byte('b')], Tok.Encode("a\n\nb"));
        Assert.Equal([BpeFixture.Zhong], Tok.Encode("中"));
        Assert.Equal([BpeFixture.SpaceThe, Byte(' '), BpeFixture.SpaceThe], Tok.Encode(" the  the"));
    }

    public static TheoryData<string, int[]> ReferenceEncodings => new()
    {
        { "Hello  the world\n\n\tin 中文 🙂", [39, 68, 75, 75, 78, 220, 258, 220, 86, 78, 81, 75, 67, 264, 197, 259, 220, 263, 162, 244, 229, 220, 172, 253, 247, 224] },
        { "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n", [267, 84, 82, 68, 81, 198, 71, 72, 258, 81, 68, 268, 198, 267, 64, 82, 82, 72, 82, 83, 64, 77, 83, 198] },
        { "it's they're we'll I'd IT'S", [72, 83, 6, 82, 258, 88, 6, 81, 68, 220, 86, 68, 6, 75, 75, 220, 40, 6, 67, 220, 40, 51, 6, 50] },
        { "numbers 12345 and 3.14159", [77, 84, 76, 65, 68, 81, 82, 220, 16, 17, 18, 19, 20, 220, 64, 77, 67, 220, 18, 13, 16, 19, 16, 20, 24] },
        { "   \n  \n", [260, 220, 198, 260, 198] },
        { "x\n\n\n\ny", [87, 264, 264, 88] },
        { "!!!\n\n??", [0, 0, 0, 264, 30, 30] },
    };

    /// <summary>Expected ids were produced by Hugging Face tokenizers 0.22 (Rust) from the same fixture.</summary>
    [Theory]
    [MemberData(nameof(ReferenceEncodings))]
    public void MatchesHuggingFaceReference(string text, int[] expected) => Assert.Equal(expected, Tok.Encode(text));

    [Fact]
    public void MergesAsStringsAndAsPairsEncodeIdentically()
    {
        var pairs = HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(mergesAsPairs: true), BpeFixture.ConfigJson());
        foreach (var text in Texts)
            Assert.Equal(Tok.Encode(text), pairs.Encode(text));
        Assert.Equal([BpeFixture.SpaceThe], pairs.Encode(" the"));
    }

    [Fact]
    public void PartialUtf8TokensKeepRawBytes()
    {
        Assert.Equal(new byte[] { 0xE4, 0xB8 }, Tok.TokenBytes(BpeFixture.ZhongPrefix));
        Assert.Equal(new byte[] { 0xE4, 0xB8, 0xAD }, Tok.TokenBytes(BpeFixture.Zhong));
        Assert.Equal(new byte[] { 0x0A, 0x0A }, Tok.TokenBytes(BpeFixture.TwoNewlines));
        Assert.Equal(new byte[] { 0x20 }, Tok.TokenBytes(Byte(' ')));
        Assert.Equal(Encoding.UTF8.GetBytes("<|im_end|>"), Tok.TokenBytes(BpeFixture.ImEnd));
        Assert.Equal("\uFFFD", Tok.Decode([BpeFixture.ZhongPrefix]));
    }

    [Fact]
    public void IdsAndSpecialFlagsComeFromConfig()
    {
        Assert.Equal(BpeFixture.VocabSize, Tok.VocabSize);
        Assert.Equal(BpeFixture.ImEnd, Tok.EosId);
        Assert.Equal(BpeFixture.EndOfText, Tok.PadId);
        Assert.Equal(BpeFixture.EndOfText, Tok.BosId); // bos_token null → no BOS; bos_token_id names the pad token
        Assert.Equal(Tok.Encode("hi"), Tok.Encode("hi", addSpecialTokens: true)); // and nothing is prepended
        Assert.True(Tok.IsSpecial(BpeFixture.ImStart));
        Assert.True(Tok.IsSpecial(BpeFixture.EndOfText));
        Assert.False(Tok.IsSpecial(BpeFixture.Think));
        Assert.False(Tok.IsSpecial(Byte('a')));
        Assert.False(Tok.IsSpecial(-1));
        Assert.Equal(4, Tok.SpecialTokens.Count);
        Assert.Equal(BpeFixture.ImStart, Tok.SpecialTokens["<|im_start|>"]);
        Assert.Equal(BpeFixture.ChatTemplate, Tok.ChatTemplate);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.TokenBytes(BpeFixture.VocabSize));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Decode([BpeFixture.VocabSize]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Decode([-1]));
    }

    [Fact]
    public void VocabSizeIsMaxIdPlusOneAndGapsDecodeToNothing()
    {
        var gappy = HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(addedOffset: 30), null);
        Assert.Equal(BpeFixture.VocabSize + 30, gappy.VocabSize);
        Assert.Equal([BpeFixture.ImStart + 30, Byte('h')], gappy.Encode("<|im_start|>h"));
        Assert.Empty(gappy.TokenBytes(BpeFixture.VocabSize));
        Assert.Equal("h", gappy.Decode([BpeFixture.VocabSize, Byte('h')]));
    }

    [Fact]
    public void DecodeSkipsSpecialTokens()
    {
        var ids = Tok.Encode("<|im_start|>user\nhi<think><|im_end|>");
        Assert.Equal("user\nhi<think>", Tok.Decode(ids, skipSpecial: true));
    }

    [Fact]
    public void EosFallsBackToCommonNames()
    {
        var noConfig = HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(), null);
        Assert.Equal(BpeFixture.EndOfText, noConfig.EosId);
        Assert.Equal(BpeFixture.EndOfText, noConfig.BosId);
        Assert.Equal(BpeFixture.EndOfText, noConfig.PadId);
        Assert.Null(noConfig.ChatTemplate);
    }

    [Fact]
    public void UnknownEosTokenIsAClearError()
    {
        var ex = Assert.Throws<ArgumentException>(() => HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(), BpeFixture.ConfigJson(eos: "</nope>")));
        Assert.Contains("</nope>", ex.Message);
    }

    [Theory]
    [InlineData("Unigram")]
    [InlineData("WordPiece")]
    public void UnsupportedModelTypeIsRejected(string type)
    {
        var ex = Assert.Throws<ArgumentException>(() => HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(modelType: type), null));
        Assert.Contains($"'{type}'", ex.Message);
        Assert.Contains("not supported", ex.Message);
    }

    [Fact]
    public void IgnoreMergesUsesWholeWordVocabularyEntries()
    {
        Assert.Equal(4, Tok.Encode(" xyz").Length);
        var ignoring = HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(ignoreMerges: true), null);
        Assert.Equal([BpeFixture.SpaceXyz], ignoring.Encode(" xyz"));
        Assert.Equal(" xyz xy", ignoring.Decode(ignoring.Encode(" xyz xy")));
    }

    [Fact]
    public void Gpt2StyleByteLevelPreTokenizerRoundTrips()
    {
        var gpt2 = HfBpeTokenizer.FromJson(BpeFixture.TokenizerJson(preTokenizer: "gpt2"), null);
        foreach (var text in Texts)
            Assert.Equal(text, gpt2.Decode(gpt2.Encode(text)));
        Assert.Equal([BpeFixture.SpaceThe], gpt2.Encode(" the"));
    }

    [Fact]
    public void MissingTokenizerJsonNamesThePath()
    {
        using var dir = new TempDir();
        var ex = Assert.Throws<FileNotFoundException>(() => HfBpeTokenizer.Load(dir.Path));
        Assert.Equal(dir["tokenizer.json"], ex.FileName);
        Assert.Contains(dir["tokenizer.json"], ex.Message);
    }

    [Fact]
    public void SaveWritesOriginalFilesAndLoadReadsThemBack()
    {
        using var src = new TempDir();
        using var dst = new TempDir();
        var json = BpeFixture.TokenizerJson(mergesAsPairs: true);
        var config = BpeFixture.ConfigJson();
        File.WriteAllText(src["tokenizer.json"], json);
        File.WriteAllText(src["tokenizer_config.json"], config);
        var loaded = HfBpeTokenizer.Load(src.Path);
        loaded.Save(dst.Path);
        Assert.Equal(json, File.ReadAllText(dst["tokenizer.json"]));
        Assert.Equal(config, File.ReadAllText(dst["tokenizer_config.json"]));
        Assert.False(File.Exists(dst["chat_template.jinja"]));

        var again = HfBpeTokenizer.Load(dst.Path);
        const string text = "<|im_start|>user\nthe 中文 🙂<|im_end|>";
        Assert.Equal(Tok.Encode(text), again.Encode(text));
        Assert.Equal(BpeFixture.ChatTemplate, again.ChatTemplate);
        Assert.Equal(BpeFixture.ImEnd, again.EosId);
        Assert.Equal(Tok.Encode(text), HfBpeTokenizer.Load(dst["tokenizer.json"]).Encode(text)); // a file path works too
    }

    [Fact]
    public void ChatTemplateFileIsUsedAndKept()
    {
        using var src = new TempDir();
        using var dst = new TempDir();
        File.WriteAllText(src["tokenizer.json"], BpeFixture.TokenizerJson());
        File.WriteAllText(src["chat_template.jinja"], "{{ messages }}");
        var tok = HfBpeTokenizer.Load(src.Path);
        Assert.Equal("{{ messages }}", tok.ChatTemplate);
        tok.Save(dst.Path);
        Assert.Equal("{{ messages }}", File.ReadAllText(dst["chat_template.jinja"]));
        Assert.False(File.Exists(dst["tokenizer_config.json"]));
    }

    [Fact]
    public void NfcNormalisationApplies()
    {
        var decomposed = "cafe\u0301";
        Assert.Equal("caf\u00e9", Tok.Decode(Tok.Encode(decomposed)));
    }
}
