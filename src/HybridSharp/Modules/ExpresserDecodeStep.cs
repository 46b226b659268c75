using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>The OTCE Expresser tail: h ← projection(act(dense(RMSNorm_pd(h) + h₀))), h₀ the block input.</summary>
internal sealed unsafe class ExpresserDecodeStep(int hidden, double eps, float* norm, PackedMatrix dense, PackedMatrix projection, string act)
{
    private readonly ScratchBuffer _sum = new(), _dense = new();

    public void Run(float* h, float* h0, int n)
    {
        float* sum = _sum.Get((long)n * hidden), mid = _dense.Get((long)n * hidden);
        for (int b = 0; b < n; b++)
        {
            long at = (long)b * hidden;
            RowOps.RmsNorm(h + at, norm, sum + at, hidden, eps);
            for (int i = 0; i < hidden; i++) sum[at + i] += h0[at + i];
        }
        MatVecKernel.Run(n, new MatVecJob(dense, null, sum, hidden, mid, hidden));
        RowOps.TryActivate(act, mid, n * hidden);
        MatVecKernel.Run(n, new MatVecJob(projection, null, mid, hidden, h, hidden));
    }
}
