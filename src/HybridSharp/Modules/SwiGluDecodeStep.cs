using HybridSharp.Kernels;
using System.Runtime.CompilerServices;

namespace HybridSharp.Modules;

/// <summary>One decode token of <see cref="SwiGluMlp"/>: gate and up in one parallel pass, act(gate) ⊙ up, down.</summary>
internal sealed unsafe class SwiGluDecodeStep(int hidden, int intermediate, string act, PackedMatrix gate, PackedMatrix up, PackedMatrix down,
    float* gateBias, float* upBias, float* downBias) : IFfnDecodeStep
{
    private readonly ScratchBuffer _gate = new(), _up = new();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(float* x, float* y, int rows)
    {
        float* g = _gate.Get((long)rows * intermediate), u = _up.Get((long)rows * intermediate);
        MatVecKernel.Run(rows, new MatVecJob(gate, gateBias, x, hidden, g, intermediate), new MatVecJob(up, upBias, x, hidden, u, intermediate));
        long count = (long)rows * intermediate;
        RowOps.TryActivate(act, g, checked((int)count));
        for (long i = 0; i < count; i++) g[i] *= u[i];
        MatVecKernel.Run(rows, new MatVecJob(down, downBias, g, intermediate, y, hidden));
    }
}
