using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.CompilerServices;

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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Multiply(float* x, int n, int xStride, float* y, int yStride, int r0, int r1)
    {
        if (Avx512F.IsSupported && Cols % GroupSize == 0)
        {
            // Fused: each group's 32 weights are widened in registers and multiplied with x; nothing is stored.
            for (int r = r0; r < r1; r++)
                for (int b = 0; b < n; b++)
                    y[(long)b * yStride + r] = Dot512(_q + (long)r * Cols, _scales + (long)r * _groupsPerRow, x + (long)b * xStride);
            return;
        }
        Span<float> row = Cols <= 4096 ? stackalloc float[Cols] : new float[Cols];
        for (int r = r0; r < r1; r++)
        {
            ReadRow(r, row);
            DotRows(row, x, n, xStride, y, yStride, r);
        }
    }

    /// <summary>Σ_g s_g · Σ_{i∈g} q_i·x_i over one row (AVX-512; Cols a multiple of the group size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float Dot512(sbyte* q, float* scales, float* x)
    {
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        int g = 0;
        for (int c = 0; c < Cols; c += 2 * GroupSize, g += 2)
        {
            var a = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + c))) * Vector512.Load(x + c);
            a = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + c + 16))), Vector512.Load(x + c + 16), a);
            acc0 = Avx512F.FusedMultiplyAdd(a, Vector512.Create(scales[g]), acc0);
            if (c + GroupSize >= Cols) break;
            var b = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + c + 32))) * Vector512.Load(x + c + 32);
            b = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + c + 48))), Vector512.Load(x + c + 48), b);
            acc1 = Avx512F.FusedMultiplyAdd(b, Vector512.Create(scales[g + 1]), acc1);
        }
        return Vector512.Sum(acc0 + acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
