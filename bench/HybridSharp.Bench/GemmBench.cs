using System.Diagnostics;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>
/// fp32 GEMM throughput of libtorch's CPU build (MKL inside libtorch_cpu.so) at n × n × n, for 1 and 2 threads: the peak
/// the training MFU figures are measured against. Median of 7 timings per point.
/// </summary>
internal static class GemmBench
{
    public static void Run(IReadOnlyList<int> sizes, IReadOnlyList<int> threads)
    {
        Console.WriteLine($"fp32 GEMM (torch.mm), medians of 7; CPU: {CpuName()}");
        Console.WriteLine("| n | " + string.Join(" | ", threads.Select(t => $"{t} thread{(t > 1 ? "s" : "")} GFLOP/s")) + " |");
        Console.WriteLine("|---|" + string.Concat(threads.Select(_ => "---|")));
        foreach (int n in sizes)
        {
            var cells = new List<string>();
            foreach (int t in threads)
            {
                set_num_threads(t);
                using var a = randn(n, n);
                using var b = randn(n, n);
                for (int i = 0; i < 3; i++) { using var c = a.mm(b); }
                int reps = Math.Max(1, (int)(2e9 / (2.0 * n * n * n)));
                var times = new List<double>();
                for (int r = 0; r < 7; r++)
                {
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < reps; i++) { using var c = a.mm(b); }
                    times.Add(sw.Elapsed.TotalSeconds / reps);
                }
                times.Sort();
                cells.Add($"{2.0 * n * n * n / times[3] / 1e9:F0}");
            }
            Console.WriteLine($"| {n} | {string.Join(" | ", cells)} |");
        }
    }

    private static string CpuName() =>
        File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "?" : "?";
}
