using HybridSharp.Eval.Reasoning;
using Xunit;

namespace HybridSharp.Tests.ReasoningEval;

public sealed class AnswerExtractionTests
{
    [Theory]
    [InlineData(@"so the total is \boxed{42}.", "42", ExtractedAnswer.Boxed)]
    [InlineData(@"first \boxed{1} then \boxed{\frac{3}{4}}", @"\frac{3}{4}", ExtractedAnswer.Boxed)]
    [InlineData(@"nested \boxed{\frac{\sqrt{2}}{2}} done", @"\frac{\sqrt{2}}{2}", ExtractedAnswer.Boxed)]
    [InlineData(@"negative: \boxed{-17}", "-17", ExtractedAnswer.Boxed)]
    [InlineData(@"units \boxed{12\text{ cm}}", @"12\text{ cm}", ExtractedAnswer.Boxed)]
    [InlineData(@"legacy \fbox{7}", "7", ExtractedAnswer.Boxed)]
    [InlineData(@"bare $\boxed 5$ end", "5", ExtractedAnswer.Boxed)]
    [InlineData("We add them. The answer is 1,250.", "1,250", ExtractedAnswer.AnswerIs)]
    [InlineData("Final answer is: $-3$", "-3", ExtractedAnswer.AnswerIs)]
    [InlineData("The final answer is $\\frac{1}{2}$. I hope it is correct.", @"\frac{1}{2}", ExtractedAnswer.Minerva)]
    [InlineData("3 apples and 4 pears make 7", "7", ExtractedAnswer.LastNumber)]
    [InlineData("it drops to -2.5 degrees", "-2.5", ExtractedAnswer.LastNumber)]
    [InlineData("ratio 3/4", "3/4", ExtractedAnswer.LastNumber)]
    public void ExtractsFinalAnswer(string text, string answer, string method)
    {
        var got = AnswerExtractor.Extract(text);
        Assert.NotNull(got);
        Assert.Equal(answer, got.Answer);
        Assert.Equal(method, got.Method);
    }

    [Theory]
    [InlineData("no numbers at all")]
    [InlineData(@"an earlier \boxed{3} but the last box is truncated \boxed{\frac{1}{")]
    public void NoAnswerWhenNoneOrTruncated(string text) => Assert.Null(AnswerExtractor.Extract(text));

    [Theory]
    [InlineData(@"The answer is \boxed{14}.", "14")]
    [InlineData(@"\boxed{\frac{1}{2}}", @"\frac{1}{2}")]
    [InlineData(@"\boxed{{a}{b}} end", "{a}{b}")]
    [InlineData(@"first \boxed{1}, then \boxed{2}", "2")]
    [InlineData(@"\boxed{3} and \boxed{\dfrac{7}{2}} done", @"\dfrac{7}{2}")]
    [InlineData(@"\boxed{}", "")]
    [InlineData(@"\boxed{ 1,000 }", " 1,000 ")]
    [InlineData(@"spaced \boxed {12}", "12")]
    [InlineData(@"legacy \fbox{7}", "7")]
    [InlineData(@"\boxed{3} then \fbox{8}", "8")]
    [InlineData(@"\fbox{3} then \boxed{8}", "8")]
    [InlineData(@"bare $\boxed 5$ end", "5")]
    [InlineData(@"\boxed{3} but finally \boxed 9", "9")]
    public void LastBoxedTakesTheLastBoxOfEitherCommand(string text, string expected) =>
        Assert.Equal(expected, AnswerExtractor.LastBoxed(text));

    [Theory]
    [InlineData("")]
    [InlineData("no box here, just 14")]
    [InlineData(@"\boxed{12")]
    [InlineData(@"\boxed{\frac{1}{2}")]
    [InlineData(@"\boxed{1} and later \boxed{2")]
    [InlineData(@"\fbox{1} and later \fbox{2")]
    [InlineData("boxed{5}")]
    [InlineData(@"empty bare \boxed $")]
    public void LastBoxedIsNullWithoutAClosedFinalBox(string text) => Assert.Null(AnswerExtractor.LastBoxed(text));

    [Fact]
    public void AllBoxedInOrder() =>
        Assert.Equal(["1", @"\{2\}", "x^{2}"], AnswerExtractor.AllBoxed(@"\boxed{1} and \boxed{\{2\}} and \boxed{x^{2}}"));

    [Theory]
    [InlineData(@"\dfrac{1}{2}", "0.5")]
    [InlineData("1/2", @"\frac{1}{2}")]
    [InlineData(@"\frac12", "0.5")]
    [InlineData(@"\left( 1, 2 \right)", "(1,2)")]
    [InlineData(@"12\text{ cm}", "12")]
    [InlineData("12 cm", "12")]
    [InlineData("5 apples", "5")]
    [InlineData(@"90^\circ", "90")]
    [InlineData(@"\$1,000", "1000")]
    [InlineData("3.50", "3.5")]
    [InlineData("7.0", "7")]
    [InlineData(".5", "0.5")]
    [InlineData("x = 4", "4")]
    [InlineData("seven", "7")]
    [InlineData(@"50\%", "0.5")]
    [InlineData(@"\text{(B)}", "B")]
    [InlineData("(2, 3]", "(2,3]")]
    [InlineData(@"\begin{pmatrix} 1 \\ 2.0 \end{pmatrix}", @"\begin{pmatrix}1\\2\end{pmatrix}")]
    [InlineData(@"2\sqrt{3}", "3.4641016")]
    [InlineData("y=2x+1", "2x+1")]
    [InlineData(@"\{1, 2\}", "{1,2}")]
    [InlineData("-0.25", @"-\frac{1}{4}")]
    public void EquivalentAnswers(string predicted, string reference) =>
        Assert.True(AnswerNormalizer.Equivalent(predicted, reference), $"{predicted} vs {reference}: {AnswerNormalizer.Normalize(predicted)} | {AnswerNormalizer.Normalize(reference)}");

    [Theory]
    [InlineData("5", "500")]
    [InlineData("-3", "3")]
    [InlineData("(1,2)", "[1,2]")]
    [InlineData("(1,2)", "(1,2,3)")]
    [InlineData(@"\frac{1}{3}", "0.33")]
    [InlineData("C", "B")]
    [InlineData("", "4")]
    [InlineData("1,2", "12")]
    public void DifferentAnswers(string predicted, string reference) =>
        Assert.False(AnswerNormalizer.Equivalent(predicted, reference), $"{predicted} vs {reference}");

    [Theory]
    [InlineData("4999.5", "5000", true, false)]
    [InlineData("14.001", "14", true, false)]
    [InlineData("3.0000001", "3", true, true)]
    [InlineData("(1, 4999.5)", "(1, 5000)", true, false)]
    [InlineData("15", "14", false, false)]
    public void NumericToleranceIsTheDefaultOrTheCallersOwn(string predicted, string reference, bool atDefault, bool atOneInAMillion)
    {
        Assert.Equal(atDefault, AnswerNormalizer.Equivalent(predicted, reference));
        Assert.Equal(atOneInAMillion, AnswerNormalizer.Equivalent(predicted, reference, relativeTolerance: 1e-6));
    }

    [Fact]
    public void SymbolicPairsAreFlaggedNotGuessed()
    {
        Assert.Equal(AnswerMatch.NeedsSymbolic, AnswerNormalizer.Compare("x^2+2x+1", "(x+1)^2"));
        Assert.Equal(AnswerMatch.Different, AnswerNormalizer.Compare("4", "5"));
        Assert.Equal(AnswerMatch.Equal, AnswerNormalizer.Compare("x+1", "x + 1"));
    }
}
