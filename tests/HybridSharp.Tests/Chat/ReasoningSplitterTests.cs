using HybridSharp.Chat;
using Xunit;

namespace HybridSharp.Tests.Chat;

public sealed class ReasoningSplitterTests
{
    [Theory]
    [InlineData("<think>\nI add.\n</think>\n\nIt is 5.", false, "\nI add.\n", "It is 5.")]
    [InlineData("  <think>a</think>b", false, "a", "b")]
    [InlineData("I add.\n</think>\n\nIt is 5.", true, "I add.\n", "It is 5.")]
    [InlineData("It is 5.", false, null, "It is 5.")]
    [InlineData("<thin", false, null, "<thin")]
    [InlineData("<think>still thinking", false, "still thinking", "")]
    [InlineData("x <think>y</think>", false, null, "x <think>y</think>")]
    public void SplitsWholeRepliesAndEveryStreamedCutTheSameWay(string reply, bool startsInReasoning, string? reasoning, string content)
    {
        Assert.Equal((reasoning, content), ReasoningSplitter.Split(reply, startsInReasoning));
        // Streamed one character at a time and in two pieces at every cut: the same text, no tag fragment in any piece.
        for (int cut = 0; cut <= reply.Length; cut++)
        {
            foreach (var pieces in new[] { reply.Select(c => c.ToString()).ToArray(), [reply[..cut], reply[cut..]] })
            {
                var splitter = new ReasoningSplitter(startsInReasoning);
                string r = "", c = "";
                foreach (var piece in pieces)
                {
                    var (pr, pc) = splitter.Push(piece);
                    Assert.DoesNotContain("</think>", pr);
                    r += pr;
                    c += pc;
                }
                var (fr, fc) = splitter.Flush();
                Assert.Equal(reasoning ?? "", r + fr);
                Assert.Equal(content, c + fc);
            }
        }
    }

    [Fact]
    public void KnowsThinkingTemplatesAndOpenPrompts()
    {
        Assert.True(ReasoningSplitter.PromptOpensReasoning("<|im_start|>assistant\n<think>\n"));
        Assert.False(ReasoningSplitter.PromptOpensReasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    }
}
