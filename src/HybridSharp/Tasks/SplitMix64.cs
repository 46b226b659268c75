namespace HybridSharp.Tasks;

/// <summary>
/// A tiny, fully specified pseudo-random generator (SplitMix64). Used instead of <see cref="System.Random"/> so that
/// generated tasks stay bit-for-bit identical across .NET versions and platforms.
/// </summary>
public sealed class SplitMix64
{
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;
    private ulong _state;

    /// <summary>Creates a generator whose first output is SplitMix64's first output for state <paramref name="seed"/>.</summary>
    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>Returns the next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        _state = unchecked(_state + Gamma);
        return Finalize(_state);
    }

    /// <summary>Returns a uniformly distributed integer in [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>).</summary>
    public int NextInt(int minInclusive, int maxExclusive)
    {
        if (maxExclusive <= minInclusive)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), "maxExclusive must be greater than minInclusive.");
        ulong range = (ulong)((long)maxExclusive - minInclusive);
        // Rejection sampling: 2^64 mod range values at the bottom are discarded so every residue is equally likely.
        ulong threshold = unchecked(0UL - range) % range;
        while (true)
        {
            ulong r = NextUInt64();
            if (r >= threshold) return (int)((long)minInclusive + (long)(r % range));
        }
    }

    /// <summary>Returns a uniformly distributed double in [0, 1) with 53 bits of precision.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Returns true with probability <paramref name="probability"/>.</summary>
    public bool Chance(double probability) => NextDouble() < probability;

    /// <summary>Picks one element of <paramref name="items"/> uniformly.</summary>
    public T Pick<T>(IReadOnlyList<T> items)
    {
        if (items.Count == 0) throw new ArgumentException("Cannot pick from an empty list.", nameof(items));
        return items[NextInt(0, items.Count)];
    }

    /// <summary>Mixes several values into one well-scrambled 64-bit seed (order-sensitive).</summary>
    public static ulong Mix(params ReadOnlySpan<ulong> values)
    {
        ulong h = 0x243F6A8885A308D3UL;
        foreach (ulong v in values) h = Finalize(unchecked(h + Gamma + Finalize(unchecked(v + Gamma))));
        return h;
    }

    private static ulong Finalize(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
