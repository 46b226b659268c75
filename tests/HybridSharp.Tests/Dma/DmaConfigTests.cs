using System.Text.Json;
using HybridSharp.Config;
using Xunit;

namespace HybridSharp.Tests.Dma;

public sealed class DmaConfigTests
{
    [Fact]
    public void DefaultsAndJsonNames()
    {
        var d = new DmaConfig();
        Assert.Equal(2048, d.KeepWindowSize);
        Assert.Equal("upstream", d.Layout);
        Assert.False(d.QkNorm);
        Assert.Equal(2, d.MaskHeads(4, 2));
        var parsed = JsonSerializer.Deserialize<DmaConfig>("""{"keep_window_size": 3, "layout": "legacy", "qk_norm": true}""")!;
        Assert.Equal(3, parsed.KeepWindowSize);
        Assert.True(parsed.IsLegacy);
        Assert.True(parsed.QkNorm);
        Assert.Equal(4, parsed.MaskHeads(4, 2));
        Assert.Contains("\"keep_window_size\":3", JsonSerializer.Serialize(parsed));
    }

    [Theory]
    [InlineData(0, "upstream", "keep_window_size")]
    [InlineData(8, "cheems", "layout")]
    public void ValidateNamesTheBadField(int window, string layout, string field)
    {
        var ex = Assert.Throws<ConfigException>(() => new DmaConfig { KeepWindowSize = window, Layout = layout }.Validate());
        Assert.StartsWith("dma." + field, ex.Message);
    }
}
