using HybridSharp.Tasks;
using Xunit;

namespace HybridSharp.Tests.Tasks;

public class SplitMix64Tests
{
    [Fact]
    public void MatchesReferenceOutputs()
    {
        // Published SplitMix64 reference values: generated data must never change with the runtime.
        var zero = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, zero.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, zero.NextUInt64());
        Assert.Equal(0x06C45D188009454FUL, zero.NextUInt64());

        var other = new SplitMix64(1234567);
        Assert.Equal(6457827717110365317UL, other.NextUInt64());
        Assert.Equal(3203168211198807973UL, other.NextUInt64());
        Assert.Equal(9817491932198370423UL, other.NextUInt64());
    }

    [Fact]
    public void NextInt_StaysInRangeAndCoversIt()
    {
        var rng = new SplitMix64(99);
        var seen = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            int v = rng.NextInt(-3, 4);
            Assert.InRange(v, -3, 3);
            seen.Add(v);
        }
        Assert.Equal(7, seen.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(5, 5));
    }

    [Fact]
    public void NextDouble_IsInUnitInterval()
    {
        var rng = new SplitMix64(7);
        for (int i = 0; i < 1000; i++) Assert.InRange(rng.NextDouble(), 0.0, 0.9999999999999999);
    }
}
