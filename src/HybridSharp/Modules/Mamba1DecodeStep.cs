using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using HybridSharp.Caching;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>
/// One decode token of <see cref="Mamba1Mixer"/> (same equations, per row): in_proj → [x | z]; causal conv over the cached
/// window and SiLU; x_proj → [dt_low | B | C] with the optional inner RMSNorms; RoPE on B and C; logn on C;
/// Δ = softplus(dt_proj(dt_low)); per channel h ← exp(Δ·A) ⊙ h + (Δ·x)·B on the cached state, y = h·C + D·x;
/// y ⊙ SiLU(z); out_proj.
/// </summary>
internal sealed unsafe class Mamba1DecodeStep : IMixerDecodeStep
{
    public required int Layer { get; init; }
    public required int Hidden { get; init; }
    public required int InnerSize { get; init; }
    public required int StateSize { get; init; }
    public required int Rank { get; init; }
    public required int Kernel { get; init; }
    public required bool Rope { get; init; }
    public required double NormEps { get; init; }
    public required PackedMatrix InProj { get; init; }
    public required float* InProjBias { get; init; }
    public required float* ConvWeight { get; init; }
    public required float* ConvBias { get; init; }
    public required PackedMatrix XProj { get; init; }
    public required PackedMatrix DtProj { get; init; }
    public required float* DtProjBias { get; init; }
    public required float* ALog { get; init; }
    public required float* D { get; init; }
    public required float* DtNorm { get; init; }
    public required float* BNorm { get; init; }
    public required float* CNorm { get; init; }
    public required PackedMatrix OutProj { get; init; }
    public required float* OutProjBias { get; init; }

    private readonly ScratchBuffer _proj = new(), _dbc = new(), _dt = new(), _y = new();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(float* x, float* y, DecodeContext context)
    {
        int n = context.Rows, dbcWidth = Rank + 2 * StateSize;
        float* proj = _proj.Get((long)n * 2 * InnerSize), dbc = _dbc.Get((long)n * dbcWidth), dt = _dt.Get((long)n * InnerSize), ys = _y.Get((long)n * InnerSize);
        MatVecKernel.Run(n, new MatVecJob(InProj, InProjBias, x, Hidden, proj, 2 * InnerSize));
        var cache = (Mamba1Cache)(context.Cache.Layers[Layer] ?? throw new InvalidOperationException($"layer {Layer}: no Mamba-1 cache"));
        float* convState = TensorMemory.Float32(cache.ConvState), ssmState = TensorMemory.Float32(cache.SsmState);
        for (int b = 0; b < n; b++) RowOps.CausalConvStep(proj + (long)b * 2 * InnerSize, convState + (long)b * InnerSize * Kernel, ConvWeight, ConvBias, InnerSize, Kernel);
        MatVecKernel.Run(n, new MatVecJob(XProj, null, proj, 2 * InnerSize, dbc, dbcWidth));
        float* cos = null, sin = null;
        var rotary = context.StateRotary ?? context.Rotary;
        if (Rope)
        {
            if (rotary.Dim != StateSize) throw new InvalidOperationException($"Mamba-1 rope: rotary table dim {rotary.Dim} ≠ state_size {StateSize}");
            context.RotaryTables(rotary, out cos, out sin);
        }
        for (int b = 0; b < n; b++)
        {
            float* row = dbc + (long)b * dbcWidth, bMat = row + Rank, cMat = bMat + StateSize;
            if (DtNorm != null)
            {
                RowOps.RmsNorm(row, DtNorm, row, Rank, NormEps);
                RowOps.RmsNorm(bMat, BNorm, bMat, StateSize, NormEps);
                RowOps.RmsNorm(cMat, CNorm, cMat, StateSize, NormEps);
            }
            if (Rope)
            {
                RowOps.Rotate(bMat, 1, StateSize, cos + (long)b * StateSize, sin + (long)b * StateSize);
                RowOps.Rotate(cMat, 1, StateSize, cos + (long)b * StateSize, sin + (long)b * StateSize);
            }
            float logn = context.Logn(b);
            if (logn != 1f) TensorPrimitives.Multiply(new ReadOnlySpan<float>(cMat, StateSize), logn, new Span<float>(cMat, StateSize));
        }
        MatVecKernel.Run(n, new MatVecJob(DtProj, DtProjBias, dbc, dbcWidth, dt, InnerSize));
        Span<float> decay = stackalloc float[StateSize];
        for (int b = 0; b < n; b++)
        {
            float* xs = proj + (long)b * 2 * InnerSize, z = xs + InnerSize, row = dbc + (long)b * dbcWidth;
            var bMat = new ReadOnlySpan<float>(row + Rank, StateSize);
            var cMat = new ReadOnlySpan<float>(row + Rank + StateSize, StateSize);
            float* state = ssmState + (long)b * InnerSize * StateSize, yb = ys + (long)b * InnerSize, dtb = dt + (long)b * InnerSize;
            for (int c = 0; c < InnerSize; c++)
            {
                float delta = RowOps.Softplus(dtb[c]);
                var a = new ReadOnlySpan<float>(ALog + (long)c * StateSize, StateSize);
                TensorPrimitives.Exp(a, decay);                      // exp(A_log)
                TensorPrimitives.Multiply(decay, -delta, decay);     // Δ·A
                TensorPrimitives.Exp(decay, decay);
                var h = new Span<float>(state + (long)c * StateSize, StateSize);
                TensorPrimitives.Multiply(h, decay, h);
                TensorPrimitives.MultiplyAdd(bMat, xs[c] * delta, h, h);
                yb[c] = (TensorPrimitives.Dot(h, cMat) + xs[c] * D[c]) * RowOps.Silu(z[c]);
            }
        }
        MatVecKernel.Run(n, new MatVecJob(OutProj, OutProjBias, ys, InnerSize, y, Hidden));
    }
}
