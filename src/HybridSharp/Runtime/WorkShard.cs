using System.Globalization;
using System.Text;

namespace HybridSharp.Runtime;

/// <summary>
/// One of <see cref="Count"/> disjoint shares of a job's work items (an MQAR grid's cells, a distillation's problems),
/// for array jobs on many machines (Slurm <c>--array</c>, Kubernetes Indexed Jobs). An item belongs to shard
/// FNV-1a-64(UTF-8 key) mod N: stable across machines, runs and .NET versions, independent of the order or number of
/// the other items, so adding items to a grid never moves the existing ones. Indexes are 0-based
/// (<c>$SLURM_ARRAY_TASK_ID</c> of <c>--array=0-(N−1)</c>, <c>$JOB_COMPLETION_INDEX</c>).
/// </summary>
public sealed record WorkShard(int Index, int Count)
{
    /// <summary>Parses <c>I/N</c> (0 ≤ I &lt; N); errors name the option.</summary>
    public static WorkShard Parse(string text, string option = "--shard")
    {
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count))
            throw new ArgumentException($"{option} must be I/N with whole numbers, e.g. 0/4 (got '{text}')");
        if (count < 1 || index >= count)
            throw new ArgumentException($"{option} {text}: the index must be in 0..N−1 and N ≥ 1");
        return new WorkShard(index, count);
    }

    /// <summary>True when the item with <paramref name="key"/> belongs to this shard.</summary>
    public bool Owns(string key) => Of(key, Count) == Index;

    /// <summary>The shard (0..count−1) that <paramref name="key"/> belongs to.</summary>
    public static int Of(string key, int count)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(key))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return (int)(h % (ulong)count);
    }

    public override string ToString() => $"{Index}/{Count}";
}
