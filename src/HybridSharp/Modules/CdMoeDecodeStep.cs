using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>
/// One decode token of the product-key CDMoE FFNs (<see cref="CrossDomainMoe"/>: one router over 2·Kk logits;
/// <see cref="MultiHeadCrossDomainMoe"/>: per head, query halves against the product keys), same equations: the shared
/// SwiGLU plus Σ act(⟨x, down_embed[e]⟩)·w_e·up_embed[e] over the experts each head's product-key top-k picks.
/// </summary>
internal sealed unsafe class CdMoeDecodeStep : IFfnDecodeStep
{
    public required int Hidden { get; init; }
    public required int Intermediate { get; init; }
    public required string Act { get; init; }
    public required PackedMatrix Gate { get; init; }
    public required PackedMatrix Up { get; init; }
    public required PackedMatrix Down { get; init; }
    public required float* GateBias { get; init; }
    public required float* UpBias { get; init; }
    public required float* DownBias { get; init; }
    /// <summary>router_gate [2·Kk, d] (single head) or queries [heads·R, d] (multi-head).</summary>
    public required PackedMatrix Router { get; init; }
    /// <summary>Multi-head keys [heads, Kk, 2, R/2]; null for the single-router form.</summary>
    public required float* Keys { get; init; }
    public required int RouterHeads { get; init; }
    public required int RetrievalSize { get; init; }
    public required int NumKeys { get; init; }
    /// <summary>Experts per head (k or k_h).</summary>
    public required int TopK { get; init; }
    public required bool NormTopkProb { get; init; }
    public required float* DownEmbed { get; init; }
    public required float* UpEmbed { get; init; }

    private readonly ScratchBuffer _gate = new(), _up = new(), _router = new();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(float* x, float* y, int rows)
    {
        int routerWidth = Router.Rows;
        float* g = _gate.Get((long)rows * Intermediate), u = _up.Get((long)rows * Intermediate), r = _router.Get((long)rows * routerWidth);
        MatVecKernel.Run(rows, new MatVecJob(Gate, GateBias, x, Hidden, g, Intermediate), new MatVecJob(Up, UpBias, x, Hidden, u, Intermediate),
            new MatVecJob(Router, null, x, Hidden, r, routerWidth));
        long count = (long)rows * Intermediate;
        RowOps.TryActivate(Act, g, checked((int)count));
        for (long i = 0; i < count; i++) g[i] *= u[i];
        MatVecKernel.Run(rows, new MatVecJob(Down, DownBias, g, Intermediate, y, Hidden));

        Span<float> rx = stackalloc float[NumKeys], ry = stackalloc float[NumKeys];
        Span<float> weights = stackalloc float[TopK];
        Span<int> experts = stackalloc int[TopK];
        Span<float> activation = stackalloc float[1];
        for (int b = 0; b < rows; b++)
        {
            float* xb = x + (long)b * Hidden, yb = y + (long)b * Hidden, rb = r + (long)b * routerWidth;
            for (int h = 0; h < RouterHeads; h++)
            {
                if (Keys == null)
                {
                    new ReadOnlySpan<float>(rb, NumKeys).CopyTo(rx);
                    new ReadOnlySpan<float>(rb + NumKeys, NumKeys).CopyTo(ry);
                }
                else
                {
                    int half = RetrievalSize / 2;
                    for (int key = 0; key < NumKeys; key++)
                    {
                        float* k0 = Keys + (((long)h * NumKeys + key) * 2) * half;
                        rx[key] = TensorPrimitives.Dot(new ReadOnlySpan<float>(rb + (long)h * half, half), new ReadOnlySpan<float>(k0, half));
                        ry[key] = TensorPrimitives.Dot(new ReadOnlySpan<float>(rb + ((long)RouterHeads + h) * half, half), new ReadOnlySpan<float>(k0 + half, half));
                    }
                }
                ProductKeyTopK(rx, ry, TopK, weights, experts);
                if (NormTopkProb) TensorPrimitives.Divide(weights, TensorPrimitives.Sum(weights), weights);
                for (int j = 0; j < TopK; j++)
                {
                    float* down = DownEmbed + (long)experts[j] * Hidden, up = UpEmbed + (long)experts[j] * Hidden;
                    activation[0] = TensorPrimitives.Dot(new ReadOnlySpan<float>(xb, Hidden), new ReadOnlySpan<float>(down, Hidden));
                    fixed (float* a = activation) RowOps.TryActivate(Act, a, 1);
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(up, Hidden), activation[0] * weights[j], new ReadOnlySpan<float>(yb, Hidden), new Span<float>(yb, Hidden));
                }
            }
        }
    }

    /// <summary>
    /// Product-key selection (<see cref="CrossDomainMoe.SelectExperts"/>): the top min(k, Kk) of each half, their k'² sums,
    /// the top k of those (best first) with softmax weights; expert id = i_x·Kk + i_y.
    /// </summary>
    internal static void ProductKeyTopK(ReadOnlySpan<float> rx, ReadOnlySpan<float> ry, int k, Span<float> weights, Span<int> experts)
    {
        int kp = Math.Min(k, rx.Length);
        Span<int> ix = stackalloc int[kp], iy = stackalloc int[kp];
        TopIndices(rx, ix);
        TopIndices(ry, iy);
        Span<float> cand = stackalloc float[kp * kp];
        for (int i = 0; i < kp; i++)
            for (int j = 0; j < kp; j++) cand[i * kp + j] = rx[ix[i]] + ry[iy[j]];
        Span<int> best = stackalloc int[k];
        TopIndices(cand, best);
        for (int j = 0; j < k; j++)
        {
            weights[j] = cand[best[j]];
            experts[j] = ix[best[j] / kp] * rx.Length + iy[best[j] % kp];
        }
        float max = weights[0];
        TensorPrimitives.Subtract(weights, max, weights);
        TensorPrimitives.Exp(weights, weights);
        TensorPrimitives.Divide(weights, TensorPrimitives.Sum(weights), weights);
    }

    /// <summary>Indices of the largest values, best first (earlier index first among equals).</summary>
    private static void TopIndices(ReadOnlySpan<float> values, Span<int> top)
    {
        for (int t = 0; t < top.Length; t++)
        {
            int arg = -1;
            for (int i = 0; i < values.Length; i++)
            {
                if (top[..t].Contains(i)) continue;
                if (arg < 0 || values[i] > values[arg]) arg = i;
            }
            top[t] = arg;
        }
    }
}
