using System.Text;
using HybridSharp.Data;
using HybridSharp.Inference;
using Xunit;

namespace HybridSharp.Tests.Inference;

public sealed class StreamingTests
{
    [Fact]
    public void ByteTokenizerRoundTripsTextAndSpecialTokens()
    {
        var tok = new ByteTokenizer();
        const string text = "Hi  there\n\tünïcødé 😀 <|im_start|>user\n<| not special |><|im_end|>";
        var ids = tok.Encode(text);
        Assert.Contains(tok.ImStartId, ids);
        Assert.Contains(tok.ImEndId, ids);
        Assert.Equal(text, tok.Decode(ids));
        Assert.Equal(1, ids.Count(i => i == tok.ImStartId));
    }

    [Fact]
    public void StreamingNeverSplitsAMultiByteCharacter()
    {
        var tok = new ByteTokenizer();
        const string text = "a€😀ü z";
        var dec = new StreamingTextDecoder(tok);
        var pieces = tok.Encode(text).Select(dec.Push).ToList();
        pieces.Add(dec.Flush());
        Assert.Equal(text, string.Concat(pieces));
        foreach (var p in pieces)
        {
            Assert.DoesNotContain('\uFFFD', p);
            // every piece is valid UTF-16 on its own (no lone surrogates)
            Assert.Equal(p, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(p)));
        }
        Assert.Contains(pieces, p => p == "😀");
        Assert.Contains(pieces, p => p.Length == 0); // the decoder held back partial bytes
    }

    [Fact]
    public void StopStringSplitAcrossPiecesIsCutAndNeverEmitted()
    {
        var f = new StopStringFilter(["<END>", "\n\n"]);
        var emitted = new StringBuilder();
        foreach (var piece in new[] { "The answer", " is 4.<E", "N", "D> trailing" })
        {
            emitted.Append(f.Push(piece));
            if (f.Stopped) break;
        }
        Assert.True(f.Stopped);
        Assert.Equal("The answer is 4.", emitted.ToString());
    }

    [Fact]
    public void WithoutAMatchEverythingIsEventuallyEmitted()
    {
        var f = new StopStringFilter(["STOP"]);
        var s = f.Push("ST") + f.Push("OP?") ;
        Assert.True(f.Stopped);
        Assert.Equal("", s);
        var g = new StopStringFilter(["STOP"]);
        var t = g.Push("STO") + g.Push("p!") + g.Flush();
        Assert.False(g.Stopped);
        Assert.Equal("STOp!", t);
    }
}
