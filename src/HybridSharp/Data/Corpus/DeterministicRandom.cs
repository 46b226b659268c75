namespace HybridSharp.Data.Corpus;

/// <summary>
/// Small, platform-independent pseudo-random generator (SplitMix64 seeding, xoshiro256** output).
/// Used wherever a corpus decision must be reproducible bit for bit across runs, machines and .NET versions.
/// </summary>
internal struct DeterministicRandom
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Seeds the generator from any number of 64-bit values (e.g. seed and epoch).</summary>
    public DeterministicRandom(long seed, long stream = 0)
    {
        ulong x = Mix((ulong)seed) ^ Mix((ulong)stream + 0xD1B54A32D192ED03UL);
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>Next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform integer in [0, <paramref name="exclusiveMax"/>), without modulo bias.</summary>
    public long NextInt64(long exclusiveMax)
    {
        if (exclusiveMax <= 0) throw new ArgumentOutOfRangeException(nameof(exclusiveMax), "upper bound must be positive");
        ulong bound = (ulong)exclusiveMax;
        ulong threshold = (0UL - bound) % bound; // 2^64 mod bound
        while (true)
        {
            ulong r = NextUInt64();
            if (r >= threshold) return (long)(r % bound);
        }
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher–Yates).</summary>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = (int)NextInt64(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>A stateless uniform double in [0, 1) derived from (seed, index); used for per-document decisions.</summary>
    public static double UnitHash(long seed, long index)
    {
        ulong h = Mix(Mix((ulong)seed) ^ ((ulong)index * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL));
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    private static ulong SplitMix(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    /// <summary>The SplitMix64 finaliser: a bijective, well-mixing 64-bit hash.</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
