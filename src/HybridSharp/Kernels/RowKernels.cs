using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace HybridSharp.Kernels;

/// <summary>
/// The two products of single-query attention over a cache of contiguous rows [count, dim]: the scores (every row dotted
/// with the query) and the output (the rows summed with the probabilities as weights). Both walk four rows at a time.
/// </summary>
public static unsafe class RowKernels
{
    /// <summary>y[j] = scale · ⟨rows[j], x⟩ for j &lt; count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dots(float* rows, int count, int dim, float* x, float scale, float* y)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated && dim % 16 == 0)
            for (; j + 4 <= count; j += 4)
            {
                float* r = rows + (long)j * dim;
                var a0 = Vector512<float>.Zero; var a1 = Vector512<float>.Zero; var a2 = Vector512<float>.Zero; var a3 = Vector512<float>.Zero;
                for (int c = 0; c < dim; c += 16)
                {
                    var xv = Vector512.Load(x + c);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Load(r + c), xv, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Load(r + dim + c), xv, a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 2 * dim + c), xv, a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Load(r + 3 * dim + c), xv, a3);
                }
                y[j] = Vector512.Sum(a0) * scale;
                y[j + 1] = Vector512.Sum(a1) * scale;
                y[j + 2] = Vector512.Sum(a2) * scale;
                y[j + 3] = Vector512.Sum(a3) * scale;
            }
        var xs = new ReadOnlySpan<float>(x, dim);
        for (; j < count; j++) y[j] = TensorPrimitives.Dot(new ReadOnlySpan<float>(rows + (long)j * dim, dim), xs) * scale;
    }

    /// <summary>o = Σ_j w[j] · rows[j] (o is overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum(float* rows, int count, int dim, float* w, float* o)
    {
        var os = new Span<float>(o, dim);
        os.Clear();
        int j = 0;
        if (Vector512.IsHardwareAccelerated && dim % 16 == 0)
            for (; j + 4 <= count; j += 4)
            {
                float* r = rows + (long)j * dim;
                Vector512<float> w0 = Vector512.Create(w[j]), w1 = Vector512.Create(w[j + 1]), w2 = Vector512.Create(w[j + 2]), w3 = Vector512.Create(w[j + 3]);
                for (int c = 0; c < dim; c += 16)
                {
                    var acc = Vector512.Load(o + c);
                    acc = Vector512.FusedMultiplyAdd(Vector512.Load(r + c), w0, acc);
                    acc = Vector512.FusedMultiplyAdd(Vector512.Load(r + dim + c), w1, acc);
                    acc = Vector512.FusedMultiplyAdd(Vector512.Load(r + 2 * dim + c), w2, acc);
                    acc = Vector512.FusedMultiplyAdd(Vector512.Load(r + 3 * dim + c), w3, acc);
                    acc.Store(o + c);
                }
            }
        for (; j < count; j++) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(rows + (long)j * dim, dim), w[j], os, os);
    }
}
