using System.Diagnostics;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>Timing helpers: warm-ups, then the median of several runs, each in its own dispose scope.</summary>
public static class Bench
{
    public static double MedianSeconds(Action body, int reps, int warmups = 2)
    {
        for (int i = 0; i < warmups; i++) using (NewDisposeScope()) body();
        var times = new List<double>();
        for (int i = 0; i < reps; i++)
        {
            using var scope = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            body();
            times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Keeps libtorch's thread pool and the cores busy for a while so later timings see a warm machine.</summary>
    public static void WarmUp(double seconds = 3)
    {
        using var a = randn(1024, 1024);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds) a.matmul(a).Dispose();
    }

    /// <summary>Measured fp32 GEMM throughput (GFLOP/s) for an m×k by k×n product.</summary>
    public static double GemmGflops(long m, long k, long n, int reps)
    {
        using var a = randn(m, k);
        using var b = randn(k, n);
        double s = MedianSeconds(() => a.matmul(b).Dispose(), reps, warmups: 5);
        return 2.0 * m * k * n / s / 1e9;
    }

    public static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"));
            return line?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException) { return "unknown CPU"; }
    }
}
