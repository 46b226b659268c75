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
        int r = r0;
        if (Vector512.IsHardwareAccelerated && Cols % 16 == 0)
            for (; r + 4 <= r1; r += 4)
                for (int b = 0; b < n; b++) Dot4(_data + (long)r * Cols, x + (long)b * xStride, y + (long)b * yStride + r);
        for (; r < r1; r++) DotRows(new ReadOnlySpan<float>(_data + (long)r * Cols, Cols), x, n, xStride, y, yStride, r);
    }

    /// <summary>Four consecutive rows against one x: each x vector is loaded once for four rows' multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Dot4(float* w, float* x, float* y)
    {
        var a0 = Vector512<float>.Zero; var a1 = Vector512<float>.Zero; var a2 = Vector512<float>.Zero; var a3 = Vector512<float>.Zero;
        long stride = Cols;
        for (int c = 0; c < Cols; c += 16)
        {
            var xv = Vector512.Load(x + c);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w + c), xv, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(w + stride + c), xv, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(w + 2 * stride + c), xv, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(w + 3 * stride + c), xv, a3);
        }
        y[0] = Vector512.Sum(a0);
        y[1] = Vector512.Sum(a1);
        y[2] = Vector512.Sum(a2);
        y[3] = Vector512.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void ReadRow(int r, Span<float> destination) => new ReadOnlySpan<float>(_data + (long)r * Cols, Cols).CopyTo(destination);

    /// <summary>The tensor this matrix reads.</summary>
    public Tensor Weight => _weight;
}
