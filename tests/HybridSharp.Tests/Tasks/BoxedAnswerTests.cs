using HybridSharp.Tasks;
using Xunit;

namespace HybridSharp.Tests.Tasks;

public class BoxedAnswerTests
{
    [Theory]
    [InlineData("The answer is \\boxed{14}.", "14")]
    [InlineData("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}")]
    [InlineData("\\boxed{{a}{b}} end", "{a}{b}")]
    [InlineData("first \\boxed{1}, then \\boxed{2}", "2")]
    [InlineData("\\boxed{3} and \\boxed{\\dfrac{7}{2}} done", "\\dfrac{7}{2}")]
    [InlineData("\\boxed{}", "")]
    [InlineData("\\boxed{ 1,000 }", " 1,000 ")]
    public void ExtractLast_FindsLastBalancedBox(string text, string expected) =>
        Assert.Equal(expected, BoxedAnswer.ExtractLast(text));

    [Theory]
    [InlineData("")]
    [InlineData("no box here, just 14")]
    [InlineData("\\boxed{12")]
    [InlineData("\\boxed{\\frac{1}{2}")]
    [InlineData("\\boxed{1} and later \\boxed{2")]
    [InlineData("boxed{5}")]
    public void ExtractLast_ReturnsNullWithoutAClosedFinalBox(string text) =>
        Assert.Null(BoxedAnswer.ExtractLast(text));

    [Theory]
    [InlineData("\\frac{1}{2}", "0.5")]
    [InlineData("\\dfrac{1}{2}", "0.5")]
    [InlineData("\\tfrac{3}{4}", "0.75")]
    [InlineData("1/2", "0.5")]
    [InlineData("-\\frac{1}{4}", "-0.25")]
    [InlineData("1,000", "1000")]
    [InlineData("1,234,567.5", "1234567.5")]
    [InlineData("14.0", "14")]
    [InlineData("14.", "14")]
    [InlineData("+14", "14")]
    [InlineData("  14 ", "14")]
    [InlineData("$14$", "14")]
    [InlineData("-3", "-3.0")]
    [InlineData(".5", "0.5")]
    [InlineData("3.0000001", "3")]
    [InlineData("abc", "abc")]
    [InlineData(" abc ", "abc")]
    public void NumericallyEqual_AcceptsEquivalentForms(string predicted, string expected)
    {
        Assert.True(BoxedAnswer.NumericallyEqual(predicted, expected));
        Assert.True(BoxedAnswer.NumericallyEqual(expected, predicted));
    }

    [Theory]
    [InlineData("15", "14")]
    [InlineData("3.001", "3")]
    [InlineData("-14", "14")]
    [InlineData("1,00", "100")]
    [InlineData("1/0", "0")]
    [InlineData("abc", "abd")]
    [InlineData("", "0")]
    [InlineData("14 apples", "14")]
    public void NumericallyEqual_RejectsDifferentValues(string predicted, string expected) =>
        Assert.False(BoxedAnswer.NumericallyEqual(predicted, expected));

    [Fact]
    public void NumericallyEqual_NullPredictionIsNeverEqual() =>
        Assert.False(BoxedAnswer.NumericallyEqual(null, "14"));

    [Theory]
    [InlineData("7", 7.0)]
    [InlineData("\\frac{-3}{4}", -0.75)]
    [InlineData("2,500", 2500.0)]
    public void TryParseNumber_ParsesSupportedForms(string text, double expected)
    {
        Assert.True(BoxedAnswer.TryParseNumber(text, out double value));
        Assert.Equal(expected, value, 12);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1e5")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("1.2.3")]
    public void TryParseNumber_RejectsOtherText(string text) =>
        Assert.False(BoxedAnswer.TryParseNumber(text, out _));
}
