using System.Runtime.Intrinsics;
using static TorchSharp.torch;
using System.Runtime.CompilerServices;

namespace HybridSharp.Kernels;

/// <summary>An fp32 matrix read in place from a contiguous CPU tensor (the model's own weight; nothing is copied).</summary>
public sealed unsafe class Float32Matrix : PackedMatrix
{
    private readonly Tensor _weight;   // keeps the storage alive
    private readonly float* _data;

    public Float32Matrix(Tensor weight) : base(checked((int)weight.size(0)), checked((int)weight.size(1)))
    {
        _weight = weight;
        _data = TensorMemory.Float32(weight);
    }

    public override WeightFormat Format => WeightFormat.Float32;
    public override long Bytes => 4L * Rows * Cols;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Multiply(float* x, int n, int xStride, float* y, int yStride, int r0, int r1)
    {
        int b = 0;
        if (Vector512.IsHardwareAccelerated && Cols % 16 == 0)
            for (; b + 4 <= n; b += 4)
            {
                int r = r0;
                for (; r + 4 <= r1; r += 4) Dot4x4(_data + (long)r * Cols, x + (long)b * xStride, xStride, y + (long)b * yStride + r, yStride);
                for (int bb = b; bb < b + 4; bb++) RowKernels.Dots(_data + (long)r * Cols, r1 - r, Cols, x + (long)bb * xStride, 1f, y + (long)bb * yStride + r);
            }
        for (; b < n; b++) RowKernels.Dots(_data + (long)r0 * Cols, r1 - r0, Cols, x + (long)b * xStride, 1f, y + (long)b * yStride + r0);
    }

    /// <summary>Four consecutive rows against four activation rows: 16 accumulators, each load feeds four multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Dot4x4(float* w, float* x, int xStride, float* y, int yStride)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        long s = Cols;
        for (int c = 0; c < Cols; c += 16)
        {
            var w0 = Vector512.Load(w + c); var w1 = Vector512.Load(w + s + c); var w2 = Vector512.Load(w + 2 * s + c); var w3 = Vector512.Load(w + 3 * s + c);
            var x0 = Vector512.Load(x + c);
            a00 = Vector512.FusedMultiplyAdd(w0, x0, a00); a01 = Vector512.FusedMultiplyAdd(w1, x0, a01);
            a02 = Vector512.FusedMultiplyAdd(w2, x0, a02); a03 = Vector512.FusedMultiplyAdd(w3, x0, a03);
            var x1 = Vector512.Load(x + xStride + c);
            a10 = Vector512.FusedMultiplyAdd(w0, x1, a10); a11 = Vector512.FusedMultiplyAdd(w1, x1, a11);
            a12 = Vector512.FusedMultiplyAdd(w2, x1, a12); a13 = Vector512.FusedMultiplyAdd(w3, x1, a13);
            var x2 = Vector512.Load(x + 2L * xStride + c);
            a20 = Vector512.FusedMultiplyAdd(w0, x2, a20); a21 = Vector512.FusedMultiplyAdd(w1, x2, a21);
            a22 = Vector512.FusedMultiplyAdd(w2, x2, a22); a23 = Vector512.FusedMultiplyAdd(w3, x2, a23);
            var x3 = Vector512.Load(x + 3L * xStride + c);
            a30 = Vector512.FusedMultiplyAdd(w0, x3, a30); a31 = Vector512.FusedMultiplyAdd(w1, x3, a31);
            a32 = Vector512.FusedMultiplyAdd(w2, x3, a32); a33 = Vector512.FusedMultiplyAdd(w3, x3, a33);
        }
        y[0] = Vector512.Sum(a00); y[1] = Vector512.Sum(a01); y[2] = Vector512.Sum(a02); y[3] = Vector512.Sum(a03);
        y += yStride;
        y[0] = Vector512.Sum(a10); y[1] = Vector512.Sum(a11); y[2] = Vector512.Sum(a12); y[3] = Vector512.Sum(a13);
        y += yStride;
        y[0] = Vector512.Sum(a20); y[1] = Vector512.Sum(a21); y[2] = Vector512.Sum(a22); y[3] = Vector512.Sum(a23);
        y += yStride;
        y[0] = Vector512.Sum(a30); y[1] = Vector512.Sum(a31); y[2] = Vector512.Sum(a32); y[3] = Vector512.Sum(a33);
    }

    public override void ReadRow(int r, Span<float> destination) => new ReadOnlySpan<float>(_data + (long)r * Cols, Cols).CopyTo(destination);

    /// <summary>The tensor this matrix reads.</summary>
    public Tensor Weight => _weight;
}
