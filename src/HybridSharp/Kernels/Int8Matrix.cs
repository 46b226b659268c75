using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace HybridSharp.Kernels;

/// <summary>
/// A matrix quantised to int8 in groups of <see cref="GroupSize"/> consecutive weights of a row (llama.cpp's Q8_0
/// grouping): w ≈ q · s with s = max |w| / 127 over the group and q = round(w / s) ∈ [−127, 127]. Rows are widened to
/// fp32 (q converted exactly, times its group's scale) just before their dot products.
/// </summary>
public sealed unsafe class Int8Matrix : PackedMatrix
{
    public const int GroupSize = 32;
    private sbyte* _q;
    private float* _scales;
    private readonly int _groupsPerRow;

    private Int8Matrix(int rows, int cols) : base(rows, cols)
    {
        _groupsPerRow = (cols + GroupSize - 1) / GroupSize;
        _q = (sbyte*)NativeMemory.AlignedAlloc((nuint)((long)rows * cols + 64), 64);
        _scales = (float*)NativeMemory.AlignedAlloc((nuint)(4L * rows * _groupsPerRow), 64);
    }

    /// <summary>Quantises <paramref name="weights"/> (Rows × Cols, row-major fp32).</summary>
    public static Int8Matrix Quantize(ReadOnlySpan<float> weights, int rows, int cols)
    {
        if (weights.Length != (long)rows * cols) throw new ArgumentException("weights do not match the shape");
        var m = new Int8Matrix(rows, cols);
        for (int r = 0; r < rows; r++)
        {
            var row = weights.Slice(r * cols, cols);
            for (int g = 0; g < m._groupsPerRow; g++)
            {
                int start = g * GroupSize, count = Math.Min(GroupSize, cols - start);
                float max = 0;
                for (int i = 0; i < count; i++) max = Math.Max(max, Math.Abs(row[start + i]));
                float scale = max / 127f;
                m._scales[(long)r * m._groupsPerRow + g] = scale;
                for (int i = 0; i < count; i++)
                    m._q[(long)r * cols + start + i] = scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(row[start + i] / scale), -127f, 127f);
            }
        }
        return m;
    }

    public override WeightFormat Format => WeightFormat.Int8;
    public override long Bytes => (long)Rows * Cols + 4L * Rows * _groupsPerRow;

    public override void Multiply(float* x, int n, int xStride, float* y, int yStride, int r0, int r1)
    {
        Span<float> row = Cols <= 4096 ? stackalloc float[Cols] : new float[Cols];
        for (int r = r0; r < r1; r++)
        {
            ReadRow(r, row);
            DotRows(row, x, n, xStride, y, yStride, r);
        }
    }

    public override void ReadRow(int r, Span<float> destination)
    {
        sbyte* q = _q + (long)r * Cols;
        float* scales = _scales + (long)r * _groupsPerRow;
        fixed (float* dst = destination)
        {
            int c = 0;
            if (Avx512F.IsSupported)
                for (; c + GroupSize <= Cols; c += GroupSize)
                {
                    var s = Vector512.Create(scales[c / GroupSize]);
                    var a = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + c)));
                    var b = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + c + 16)));
                    (a * s).Store(dst + c);
                    (b * s).Store(dst + c + 16);
                }
            else if (Avx2.IsSupported)
                for (; c + GroupSize <= Cols; c += GroupSize)
                {
                    var s = Vector256.Create(scales[c / GroupSize]);
                    for (int k = 0; k < GroupSize; k += 8)
                        (Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + c + k)) * s).Store(dst + c + k);
                }
            for (; c < Cols; c++) dst[c] = q[c] * scales[c / GroupSize];
        }
    }

    public override void Dispose()
    {
        Free();
        base.Dispose();
    }

    private void Free()
    {
        if (_q != null) NativeMemory.AlignedFree(_q);
        if (_scales != null) NativeMemory.AlignedFree(_scales);
        _q = null;
        _scales = null;
    }

    ~Int8Matrix() => Free();
}
