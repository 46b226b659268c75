using System.Numerics.Tensors;
using HybridSharp.Caching;
using HybridSharp.Kernels;
using System.Runtime.CompilerServices;

namespace HybridSharp.Modules;

/// <summary>
/// One decode token of <see cref="SsdMixer"/> (same equations, per row): in_proj; causal conv over the cached window and
/// SiLU (when the layer has a conv); RoPE on B and C; dt = softplus(dt_raw + dt_bias) (clamped); for every head and
/// channel h ← e^{dt·A}·h + (dt·x)·B and y = h·C + D·x on the cached state; gated group RMSNorm; out_proj.
/// </summary>
internal sealed unsafe class SsdDecodeStep : IMixerDecodeStep
{
    public required int Layer { get; init; }
    public required int Hidden { get; init; }
    public required int InnerSize { get; init; }
    public required int Heads { get; init; }
    public required int HeadDim { get; init; }
    public required int StateSize { get; init; }
    public required int Groups { get; init; }
    public required int ConvChannels { get; init; }
    public required int ZSize { get; init; }
    public required int Kernel { get; init; }
    public required bool Rope { get; init; }
    public required double NormEps { get; init; }
    public required float DtLow { get; init; }
    public required float DtHigh { get; init; }
    public required PackedMatrix InProj { get; init; }
    public required float* InProjBias { get; init; }
    public required float* ConvWeight { get; init; }   // [C_conv, 1, K]
    public required float* ConvBias { get; init; }
    public required float* DtBias { get; init; }
    public required float* ALog { get; init; }
    public required float* D { get; init; }
    public required float* NormWeight { get; init; }
    public required PackedMatrix OutProj { get; init; }

    private readonly ScratchBuffer _proj = new(), _y = new();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(float* x, float* y, DecodeContext context)
    {
        int n = context.Rows, width = ZSize + ConvChannels + Heads;
        float* proj = _proj.Get((long)n * width), ys = _y.Get((long)n * InnerSize);
        MatVecKernel.Run(n, new MatVecJob(InProj, InProjBias, x, Hidden, proj, width));
        var cache = (SsdCache)(context.Cache.Layers[Layer] ?? throw new InvalidOperationException($"layer {Layer}: no SSD cache"));
        float* convState = Kernel > 0 ? TensorMemory.Float32(cache.ConvState!) : null;
        float* ssmState = TensorMemory.Float32(cache.SsmState);
        float* cos = null, sin = null;
        if (Rope)
        {
            if (context.Rotary.Dim != StateSize) throw new InvalidOperationException($"SSD rope: rotary table dim {context.Rotary.Dim} ≠ state_size {StateSize}");
            context.RotaryTables(context.Rotary, out cos, out sin);
        }
        long stateRow = (long)Heads * HeadDim * StateSize;
        for (int b = 0; b < n; b++)
        {
            float* xbc = proj + (long)b * width + ZSize;
            if (Kernel > 0) RowOps.CausalConvStep(xbc, convState + (long)b * ConvChannels * Kernel, ConvWeight, ConvBias, ConvChannels, Kernel);
            if (Rope)
            {
                float* bMat = xbc + InnerSize, cMat = bMat + (long)Groups * StateSize;
                RowOps.Rotate(bMat, Groups, StateSize, cos + (long)b * StateSize, sin + (long)b * StateSize);
                RowOps.Rotate(cMat, Groups, StateSize, cos + (long)b * StateSize, sin + (long)b * StateSize);
            }
        }
        // The state update reads and writes H·P·N floats per row: split (row, head) pairs across threads when it is large.
        if (KernelThreads.Count > 1 && (long)n * stateRow >= ParallelThreshold)
            Parallel.For(0, n * Heads, KernelThreads.Options, i => UpdateHead(i / Heads, i % Heads, proj, width, ssmState, stateRow, ys));
        else
            for (int i = 0; i < n * Heads; i++) UpdateHead(i / Heads, i % Heads, proj, width, ssmState, stateRow, ys);
        for (int b = 0; b < n; b++)
            if (NormWeight != null) GatedGroupNorm(ys + (long)b * InnerSize, ZSize > 0 ? proj + (long)b * width : null);
        MatVecKernel.Run(n, new MatVecJob(OutProj, null, ys, InnerSize, y, Hidden));
    }

    /// <summary>State elements per call from which the heads run on several threads.</summary>
    private const long ParallelThreshold = 1 << 16;

    /// <summary>Head h of row b: h ← e^{dt·A}·h + (dt·x)·B per channel, y = h·C + D·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void UpdateHead(int b, int h, float* proj, int width, float* ssmState, long stateRow, float* ys)
    {
        float* xbc = proj + (long)b * width + ZSize, dtRaw = xbc + ConvChannels;
        float* xs = xbc, bMat = xbc + InnerSize, cMat = bMat + (long)Groups * StateSize;
        float dt = Math.Clamp(RowOps.Softplus(dtRaw[h] + DtBias[h]), DtLow, DtHigh);
        float decay = MathF.Exp(dt * -MathF.Exp(ALog[h]));
        int g = h / (Heads / Groups);
        var bg = new ReadOnlySpan<float>(bMat + (long)g * StateSize, StateSize);
        var cg = new ReadOnlySpan<float>(cMat + (long)g * StateSize, StateSize);
        float* state = ssmState + b * stateRow, yb = ys + (long)b * InnerSize;
        for (int c = 0; c < HeadDim; c++)
        {
            var hs = new Span<float>(state + ((long)h * HeadDim + c) * StateSize, StateSize);
            float xv = xs[h * HeadDim + c];
            TensorPrimitives.Multiply(hs, decay, hs);
            TensorPrimitives.MultiplyAdd(bg, xv * dt, hs, hs);
            float yv = TensorPrimitives.Dot(hs, cg);
            yb[h * HeadDim + c] = D != null ? yv + xv * D[h] : yv;
        }
    }

    /// <summary>y ← GroupRMSNorm(y ⊙ SiLU(z)) ⊙ norm.weight (z null: no gate).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void GatedGroupNorm(float* y, float* z)
    {
        if (z != null)
            for (int i = 0; i < InnerSize; i++) y[i] *= RowOps.Silu(z[i]);
        int groupWidth = InnerSize / Groups;
        for (int g = 0; g < Groups; g++)
            RowOps.RmsNorm(y + (long)g * groupWidth, NormWeight + (long)g * groupWidth, y + (long)g * groupWidth, groupWidth, NormEps);
    }
}
