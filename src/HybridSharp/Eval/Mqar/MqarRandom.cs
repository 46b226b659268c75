using HybridSharp.Data.Corpus;

namespace HybridSharp.Eval.Mqar;

/// <summary>
/// The MQAR task's pseudo-random generator: the project's platform-independent xoshiro256** generator
/// (<see cref="DeterministicRandom"/>) behind the small API the generator needs, so a seed always yields the same data
/// on any machine and .NET version.
/// </summary>
public struct MqarRandom
{
    private DeterministicRandom _rng;

    public MqarRandom(ulong seed) => _rng = new DeterministicRandom(unchecked((long)seed));

    /// <summary>Next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64() => _rng.NextUInt64();

    /// <summary>Uniform integer in [0, <paramref name="bound"/>), without modulo bias.</summary>
    public int NextInt(int bound)
    {
        if (bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound), "bound must be positive");
        return (int)_rng.NextInt64(bound);
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A well-mixed 64-bit hash of a few values (used to derive per-segment seeds).</summary>
    public static ulong Hash(params ReadOnlySpan<ulong> values)
    {
        ulong h = 0x6A09E667F3BCC909UL;
        foreach (var v in values) h = DeterministicRandom.Mix(h ^ DeterministicRandom.Mix(v + 0x9E3779B97F4A7C15UL));
        return h;
    }
}
