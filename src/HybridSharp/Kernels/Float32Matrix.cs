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
        for (int r = r0; r < r1; r++) DotRows(new ReadOnlySpan<float>(_data + (long)r * Cols, Cols), x, n, xStride, y, yStride, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void ReadRow(int r, Span<float> destination) => new ReadOnlySpan<float>(_data + (long)r * Cols, Cols).CopyTo(destination);

    /// <summary>The tensor this matrix reads.</summary>
    public Tensor Weight => _weight;
}
