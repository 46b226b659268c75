namespace HybridSharp.Config;

/// <summary>Builders for per-layer <c>layer_types</c> lists.</summary>
public static class LayerPattern
{
    /// <summary>
    /// <paramref name="special"/> at every layer i with i mod <paramref name="period"/> == <paramref name="offset"/>,
    /// <paramref name="filler"/> elsewhere. TransXSSM and Cheems use period 8, offset 7 (attention at 7, 15, 23, 31).
    /// </summary>
    public static List<string> Periodic(int layers, int period, int offset, string special, string filler)
    {
        if (layers <= 0) throw new ArgumentException("layers must be positive");
        if (period <= 0 || offset < 0 || offset >= period) throw new ArgumentException($"need period > 0 and 0 ≤ offset < period (got {period}, {offset})");
        return Enumerable.Range(0, layers).Select(i => i % period == offset ? special : filler).ToList();
    }

    /// <summary>Every layer the same type.</summary>
    public static List<string> Uniform(int layers, string type) => Enumerable.Repeat(type, layers).ToList();

    /// <summary>Compact rendering, e.g. "ssd×7 attention×1" for display.</summary>
    public static string Describe(IEnumerable<string> types)
    {
        var parts = new List<string>();
        string? current = null;
        int count = 0;
        foreach (var t in types)
        {
            if (t == current) { count++; continue; }
            if (current is not null) parts.Add($"{current}×{count}");
            current = t;
            count = 1;
        }
        if (current is not null) parts.Add($"{current}×{count}");
        return string.Join(" ", parts);
    }
}
