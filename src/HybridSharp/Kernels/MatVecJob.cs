using System.Runtime.CompilerServices;
namespace HybridSharp.Kernels;

/// <summary>
/// One matrix × activations product of a decode step: y[b, r] = Σ_c W[r, c]·x[b, c] + bias[r] for n activation rows.
/// Several jobs that read the same input (q, k and v; gate and up) run as one parallel pass, so a layer needs no
/// concatenated copy of its weights to get one fused dispatch.
/// </summary>
public readonly unsafe struct MatVecJob(PackedMatrix matrix, float* bias, float* x, int xStride, float* y, int yStride)
{
    public PackedMatrix Matrix { get; } = matrix;
    public float* Bias { get; } = bias;
    public float* X { get; } = x;
    public int XStride { get; } = xStride;
    public float* Y { get; } = y;
    public int YStride { get; } = yStride;
}

/// <summary>Runs <see cref="MatVecJob"/>s split by output rows across <see cref="KernelThreads"/>.</summary>
public static unsafe class MatVecKernel
{
    /// <summary>Below this many multiply-adds per call a second thread costs more than it saves.</summary>
    private const long ParallelThreshold = 1 << 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int n, params ReadOnlySpan<MatVecJob> jobs)
    {
        long rows = 0, work = 0;
        foreach (var j in jobs)
        {
            rows += j.Matrix.Rows;
            work += (long)j.Matrix.Rows * j.Matrix.Cols * n;
        }
        int threads = KernelThreads.Count;
        if (threads <= 1 || work < ParallelThreshold)
        {
            foreach (var j in jobs) RunRange(j, n, 0, j.Matrix.Rows);
            return;
        }
        var copy = jobs.ToArray();
        Parallel.For(0, threads, KernelThreads.Options, t =>
        {
            long start = rows * t / threads, end = rows * (t + 1) / threads, offset = 0;
            foreach (var j in copy)
            {
                long lo = Math.Max(start, offset), hi = Math.Min(end, offset + j.Matrix.Rows);
                if (lo < hi) RunRange(j, n, (int)(lo - offset), (int)(hi - offset));
                offset += j.Matrix.Rows;
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunRange(in MatVecJob j, int n, int r0, int r1)
    {
        j.Matrix.Multiply(j.X, n, j.XStride, j.Y, j.YStride, r0, r1);
        if (j.Bias == null) return;
        for (int b = 0; b < n; b++)
        {
            float* y = j.Y + (long)b * j.YStride;
            for (int r = r0; r < r1; r++) y[r] += j.Bias[r];
        }
    }
}

/// <summary>How many threads the managed kernels split work across: libtorch's intra-op thread count by default.</summary>
public static class KernelThreads
{
    private static int _count;

    public static int Count
    {
        get => _count > 0 ? _count : Math.Max(1, TorchSharp.torch.get_num_threads());
        set => _count = value;
    }

    internal static ParallelOptions Options => new() { MaxDegreeOfParallelism = Count };
}
