using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;

namespace HybridSharp.Kernels;

/// <summary>
/// A bfloat16 matrix in its own native memory: the upper 16 bits of each fp32 weight after rounding to nearest even.
/// Rows are widened back to fp32 (a 16-bit shift, exact) just before their dot products.
/// </summary>
public sealed unsafe class BFloat16Matrix : PackedMatrix
{
    private ushort* _data;

    private BFloat16Matrix(int rows, int cols) : base(rows, cols)
    {
        _data = (ushort*)NativeMemory.AlignedAlloc((nuint)(2L * rows * cols), 64);
    }

    /// <summary>Rounds <paramref name="weights"/> (Rows × Cols, row-major fp32) to bfloat16.</summary>
    public static BFloat16Matrix Quantize(ReadOnlySpan<float> weights, int rows, int cols)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException("weights do not match the shape");
        var m = new BFloat16Matrix(rows, cols);
        for (long i = 0; i < weights.Length; i++) m._data[i] = Round(weights[(int)i]);
        return m;
    }

    /// <summary>fp32 → bfloat16 bits, round to nearest even (NaN stays NaN).</summary>
    public static ushort Round(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    public override WeightFormat Format => WeightFormat.BFloat16;
    public override long Bytes => 2L * Rows * Cols;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Multiply(float* x, int n, int xStride, float* y, int yStride, int r0, int r1)
    {
        Span<float> row = Cols <= 4096 ? stackalloc float[Cols] : new float[Cols];
        for (int r = r0; r < r1; r++)
        {
            ReadRow(r, row);
            DotRows(row, x, n, xStride, y, yStride, r);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void ReadRow(int r, Span<float> destination)
    {
        ushort* src = _data + (long)r * Cols;
        int c = 0;
        fixed (float* dst = destination)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; c + 32 <= Cols; c += 32)
                {
                    var (lo, hi) = Vector512.Widen(Vector512.Load(src + c));
                    Vector512.ShiftLeft(lo, 16).AsSingle().Store(dst + c);
                    Vector512.ShiftLeft(hi, 16).AsSingle().Store(dst + c + 16);
                }
            else if (Vector256.IsHardwareAccelerated)
                for (; c + 16 <= Cols; c += 16)
                {
                    var (lo, hi) = Vector256.Widen(Vector256.Load(src + c));
                    Vector256.ShiftLeft(lo, 16).AsSingle().Store(dst + c);
                    Vector256.ShiftLeft(hi, 16).AsSingle().Store(dst + c + 8);
                }
            for (; c < Cols; c++) dst[c] = BitConverter.UInt32BitsToSingle((uint)src[c] << 16);
        }
    }

    public override void Dispose()
    {
        if (_data != null) NativeMemory.AlignedFree(_data);
        _data = null;
        base.Dispose();
    }

    ~BFloat16Matrix()
    {
        if (_data != null) NativeMemory.AlignedFree(_data);
    }
}
