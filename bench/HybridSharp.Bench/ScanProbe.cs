using System.Diagnostics;
using HybridSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>
/// Mamba-1 selective scan forward + backward at an MQAR training shape, and one elementwise op on a tensor of the
/// scan's per-token state size: the probe behind docs/native-memory.md. Run it with HYBRID_MALLOC_TUNING=0 to see
/// the cost of glibc's default mmap-per-large-block behaviour.
/// </summary>
public static class ScanProbe
{
    public static void Run(int reps, long b, long t, long c, long n)
    {
        manual_seed(0);
        var x = randn(b, t, c);
        var dt = nn.functional.softplus(randn(b, t, c).sub(3));
        var A = arange(1, n + 1, dtype: ScalarType.Float32).neg().unsqueeze(0).expand(c, n).contiguous();
        var B = randn(b, t, n);
        var C = randn(b, t, n);
        var big = randn(b, t, c, n);
        Console.WriteLine($"Mamba-1 scan, b {b} T {t} d_in {c} N {n}, chunk 16; median of {reps} after one warm-up");
        var mul = new List<double>();
        var scan = new List<double>();

        for (int r = 0; r <= reps; r++)
        {
            var m = Time(() => big.mul(big));
            var s = Time(() => Mamba1Kernels.Chunked(Leaf(x), Leaf(dt), A, Leaf(B), Leaf(C), 16, null).Y.sum().backward());
            if (r == 0) continue;

            mul.Add(m);
            scan.Add(s);
        }
        Console.WriteLine($"| mul [b,T,d_in,N] ({big.NumberOfElements * 4 / 1e6:F0} MB) | {Median(mul):F1} ms | scan fwd+bwd | {Median(scan):F1} ms |");
    }

    private static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);

    private static Tensor Leaf(Tensor t) => t.detach().requires_grad_(true);

    private static double Time(Action f)
    {
        var sw = Stopwatch.StartNew();
        using (NewDisposeScope()) f();
        return sw.Elapsed.TotalMilliseconds;
    }
}
