using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace HybridSharp.Kernels;

/// <summary>
/// A weight matrix W [Rows, Cols] (PyTorch's Linear layout: one row per output) in one of the <see cref="WeightFormat"/>s,
/// multiplied by a few activation rows at a time: the matrix × vector products of one-token decoding.
/// </summary>
public abstract unsafe class PackedMatrix : IDisposable
{
    protected PackedMatrix(int rows, int cols)
    {
        Rows = rows;
        Cols = cols;
    }

    public int Rows { get; }
    public int Cols { get; }
    public abstract WeightFormat Format { get; }

    /// <summary>Bytes the kernels read for one full pass over the matrix.</summary>
    public abstract long Bytes { get; }

    /// <summary>
    /// y[b·yStride + r] = Σ_c W[r, c] · x[b·xStride + c] for output rows r ∈ [r0, r1) and activation rows b &lt; n.
    /// Each weight row is read once and applied to all n activation rows while it is in the L1 cache.
    /// </summary>
    public abstract void Multiply(float* x, int n, int xStride, float* y, int yStride, int r0, int r1);

    /// <summary>The weights of row r as fp32 (what the kernels multiply with).</summary>
    public abstract void ReadRow(int r, Span<float> destination);

    /// <summary>Writes the whole matrix as fp32, row after row, into <paramref name="destination"/> (Rows × Cols).</summary>
    public void ReadAll(Span<float> destination)
    {
        for (int r = 0; r < Rows; r++) ReadRow(r, destination.Slice(r * Cols, Cols));
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>Dot products of one unpacked weight row with n activation rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected void DotRows(ReadOnlySpan<float> row, float* x, int n, int xStride, float* y, int yStride, int r, float scale = 1f)
    {
        for (int b = 0; b < n; b++)
            y[(long)b * yStride + r] = scale * TensorPrimitives.Dot(row, new ReadOnlySpan<float>(x + (long)b * xStride, Cols));
    }
}
