using static TorchSharp.torch;

namespace HybridSharp.Eval.Mqar;

/// <summary>
/// One MQAR data segment's parameters: vocabulary V, sequence length T, K key–value pairs,
/// power-law exponent a of the query gaps, context passes, and whether filler positions get random ids.
/// </summary>
public sealed record MqarSpec(int VocabSize, int SeqLen, int NumKvPairs, double PowerA = 0.01, int NumPasses = 1, bool RandomNonQueries = true)
{
    /// <summary>Zoology's default vocabulary.</summary>
    public const int DefaultVocab = 8192;

    /// <summary>Length of the key–value context block, 2·K·passes.</summary>
    public int ContextLength => 2 * NumKvPairs * NumPasses;

    /// <summary>Number of possible query positions, (T − context)/2.</summary>
    public int QuerySpace => (SeqLen - ContextLength) / 2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first violated precondition.</summary>
    public void Validate()
    {
        if (NumKvPairs <= 0) throw new ArgumentException($"MQAR: num_kv_pairs must be positive (got {NumKvPairs})");
        if (NumPasses <= 0) throw new ArgumentException($"MQAR: num_passes must be positive (got {NumPasses})");
        if (SeqLen <= 0 || SeqLen % 2 != 0) throw new ArgumentException($"MQAR: sequence length must be positive and even (got {SeqLen})");
        if (VocabSize <= SeqLen) throw new ArgumentException($"MQAR: vocabulary ({VocabSize}) must exceed the sequence length ({SeqLen})");
        if (ContextLength + 2 * NumKvPairs > SeqLen)
            throw new ArgumentException($"MQAR: need 2K·passes + 2K ≤ T (K {NumKvPairs}, passes {NumPasses}, T {SeqLen}); for one pass 4·K ≤ T");
        if (NumKvPairs > VocabSize / 2 - 1) throw new ArgumentException($"MQAR: K ({NumKvPairs}) exceeds the key range [1, V/2)");
        if (!(PowerA > 0)) throw new ArgumentException($"MQAR: power_a must be positive (got {PowerA})");
    }
}

/// <summary>
/// A generated MQAR segment: <see cref="Count"/> examples of length T, row-major. <see cref="Labels"/> holds −100
/// except at the K query positions, where it holds the value bound to the query key.
/// </summary>
public sealed class MqarData
{
    public const int IgnoreIndex = -100;

    public MqarSpec Spec { get; }
    public ulong Seed { get; }
    public int Count { get; }
    /// <summary>Token ids, [Count · T] row-major (int32 to halve memory at the full protocol's 100k × 512).</summary>
    public int[] Inputs { get; }
    /// <summary>Targets, [Count · T] row-major; −100 where unlabelled.</summary>
    public int[] Labels { get; }

    internal MqarData(MqarSpec spec, ulong seed, int count, int[] inputs, int[] labels)
    {
        Spec = spec;
        Seed = seed;
        Count = count;
        Inputs = inputs;
        Labels = labels;
    }

    public int SeqLen => Spec.SeqLen;

    /// <summary>Inputs of example <paramref name="i"/>.</summary>
    public ReadOnlySpan<int> InputRow(int i) => Inputs.AsSpan(i * SeqLen, SeqLen);

    /// <summary>Labels of example <paramref name="i"/>.</summary>
    public ReadOnlySpan<int> LabelRow(int i) => Labels.AsSpan(i * SeqLen, SeqLen);

    /// <summary>Inputs and labels of examples [start, start + count) as int64 tensors [count, T] (copies).</summary>
    public (Tensor Inputs, Tensor Labels) Batch(int start, int count, Device? device = null)
    {
        if (start < 0 || count <= 0 || start + count > Count) throw new ArgumentOutOfRangeException(nameof(start), $"batch [{start}, {start + count}) is outside 0..{Count}");
        long t = SeqLen;
        var x = ToInt64(Inputs.AsSpan(start * SeqLen, count * SeqLen), count, t, device);
        var y = ToInt64(Labels.AsSpan(start * SeqLen, count * SeqLen), count, t, device);
        return (x, y);
    }

    private static Tensor ToInt64(ReadOnlySpan<int> src, long rows, long cols, Device? device)
    {
        var buf = new long[src.Length];
        for (int i = 0; i < src.Length; i++) buf[i] = src[i];
        return tensor(buf, [rows, cols], ScalarType.Int64, device);
    }
}

/// <summary>
/// Zoology's multi-query associative recall generator, reimplemented with our own PRNG
/// (<see cref="MqarRandom"/>): equivalence with Zoology's NumPy streams is distributional, not bitwise.
/// <list type="number">
/// <item>Per example, K distinct keys from [1, V/2) and K distinct values from [V/2, V) (0 is never a key).</item>
/// <item>Context <c>k₁ v₁ … k_K v_K</c>, tiled num_passes times.</item>
/// <item>K distinct gap indices g from 0 … space−1 (space = (T − context)/2), drawn without replacement with weights
/// a·i^(a−1) for i = 1 … space (successive sampling, as NumPy's <c>choice(replace=False, p=…)</c>).</item>
/// <item>Key j is placed at position context + 2·g_j and its value is the label at that same position.</item>
/// <item>With random_non_queries, every 0 in the inputs becomes a uniform id in [0, V).</item>
/// </list>
/// </summary>
public static class MqarGenerator
{
    /// <summary>Generates <paramref name="count"/> examples; the same (spec, seed, count) always gives the same data.</summary>
    public static MqarData Generate(MqarSpec spec, int count, ulong seed)
    {
        spec.Validate();
        if (count <= 0) throw new ArgumentException($"MQAR: number of examples must be positive (got {count})");
        int v = spec.VocabSize, t = spec.SeqLen, k = spec.NumKvPairs, context = spec.ContextLength, space = spec.QuerySpace;
        int half = v / 2;

        var weights = new double[space];
        for (int i = 0; i < space; i++) weights[i] = spec.PowerA * Math.Pow(i + 1, spec.PowerA - 1);
        double weightSum = weights.Sum();

        if ((long)count * t > Array.MaxLength) throw new ArgumentException($"MQAR: {count} × {t} tokens exceed one array");
        var inputs = new int[count * t];
        var labels = new int[count * t];
        Array.Fill(labels, MqarData.IgnoreIndex);

        var rng = new MqarRandom(seed);
        var keys = new int[k];
        var values = new int[k];
        var gaps = new int[k];
        var stamp = new int[v];       // stamp[id] == example + 1 ⇔ id already drawn for this example
        var taken = new bool[space];

        for (int e = 0; e < count; e++)
        {
            int mark = e + 1;
            DrawDistinct(ref rng, keys, 1, half, stamp, mark);
            DrawDistinct(ref rng, values, half, v, stamp, mark);
            DrawGaps(ref rng, gaps, weights, weightSum, taken);

            var row = inputs.AsSpan(e * t, t);
            var lab = labels.AsSpan(e * t, t);
            for (int pass = 0; pass < spec.NumPasses; pass++)
                for (int j = 0; j < k; j++)
                {
                    int p = pass * 2 * k + 2 * j;
                    row[p] = keys[j];
                    row[p + 1] = values[j];
                }
            for (int j = 0; j < k; j++)
            {
                int pos = context + 2 * gaps[j];
                row[pos] = keys[j];
                lab[pos] = values[j];
            }
            if (spec.RandomNonQueries)
                for (int p = 0; p < t; p++)
                    if (row[p] == 0) row[p] = rng.NextInt(v);
        }
        return new MqarData(spec, seed, count, inputs, labels);
    }

    /// <summary>Seed of training segment <paramref name="segment"/> of an (T, K) task, in [0, 2³¹).</summary>
    public static ulong TrainSeed(long runSeed, int seqLen, int numKvPairs, int segment = 0) =>
        MqarRandom.Hash((ulong)runSeed, (ulong)seqLen, (ulong)numKvPairs, (ulong)segment, 0) & 0x7FFF_FFFFUL;

    /// <summary>Seed of test segment <paramref name="segment"/> of an (T, K) task, in [2³¹, 2³²) — never equal to a train seed.</summary>
    public static ulong TestSeed(long runSeed, int seqLen, int numKvPairs, int segment = 0) =>
        0x8000_0000UL | (MqarRandom.Hash((ulong)runSeed, (ulong)seqLen, (ulong)numKvPairs, (ulong)segment, 1) & 0x7FFF_FFFFUL);

    /// <summary>Fills <paramref name="dest"/> with distinct uniform ids from [lo, hi), in draw order (rejection sampling).</summary>
    private static void DrawDistinct(ref MqarRandom rng, int[] dest, int lo, int hi, int[] stamp, int mark)
    {
        int range = hi - lo;
        for (int j = 0; j < dest.Length; j++)
        {
            int id;
            do id = lo + rng.NextInt(range);
            while (stamp[id] == mark);
            stamp[id] = mark;
            dest[j] = id;
        }
    }

    /// <summary>Successive weighted sampling without replacement of dest.Length distinct indices.</summary>
    private static void DrawGaps(ref MqarRandom rng, int[] dest, double[] weights, double total, bool[] taken)
    {
        Array.Clear(taken);
        double remaining = total;
        for (int j = 0; j < dest.Length; j++)
        {
            double u = rng.NextDouble() * remaining;
            int pick = -1, last = -1;
            double acc = 0;
            for (int i = 0; i < weights.Length; i++)
            {
                if (taken[i]) continue;
                last = i;
                acc += weights[i];
                if (u < acc) { pick = i; break; }
            }
            if (pick < 0) pick = last; // rounding at the tail
            taken[pick] = true;
            remaining -= weights[pick];
            dest[j] = pick;
        }
    }
}
