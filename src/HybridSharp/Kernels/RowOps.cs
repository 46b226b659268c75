using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace HybridSharp.Kernels;

/// <summary>Element-wise and per-row operations of a decode step on fp32 spans, with the library's formulas.</summary>
public static unsafe class RowOps
{
    /// <summary>y = w ⊙ x / √(mean(x²) + ε) (RMSNorm; <paramref name="weight"/> null = no scale).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(float* x, float* weight, float* y, int dim, double eps)
    {
        var xs = new ReadOnlySpan<float>(x, dim);
        var ys = new Span<float>(y, dim);
        float inv = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xs) / dim + (float)eps);
        TensorPrimitives.Multiply(xs, inv, ys);
        if (weight != null) TensorPrimitives.Multiply(ys, new ReadOnlySpan<float>(weight, dim), ys);
    }

    /// <summary>x ← act(x) for "silu" or "relu"; false for an activation these kernels do not implement.</summary>
    public static bool TryActivate(string act, float* x, int length)
    {
        var s = new Span<float>(x, length);
        switch (act)
        {
            case "silu" or "swish":
                for (int i = 0; i < length; i++) s[i] = Silu(s[i]);
                return true;
            case "relu":
                TensorPrimitives.Max(s, 0f, s);
                return true;
            default:
                return false;
        }
    }

    public static bool Supports(string act) => act is "silu" or "swish" or "relu";

    /// <summary>SiLU(v) = v · σ(v).</summary>
    public static float Silu(float v) => v / (1f + MathF.Exp(-v));

    /// <summary>softplus(v) = ln(1 + eᵛ), v itself above 20 (PyTorch's threshold).</summary>
    public static float Softplus(float v) => v > 20f ? v : MathF.Log(1f + MathF.Exp(v));

    /// <summary>
    /// NeoX rotation of <paramref name="heads"/> consecutive vectors of <paramref name="dim"/> in place:
    /// v ← v ⊙ cos + rotate_half(v) ⊙ sin, with cos/sin [dim] (both halves equal).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rotate(float* v, int heads, int dim, float* cos, float* sin)
    {
        int half = dim / 2;
        for (int h = 0; h < heads; h++)
        {
            float* x = v + (long)h * dim;
            for (int i = 0; i < half; i++)
            {
                float a = x[i], b = x[i + half];
                x[i] = a * cos[i] - b * sin[i];
                x[i + half] = b * cos[i + half] + a * sin[i + half];
            }
        }
    }

    /// <summary>
    /// One step of a causal depthwise conv with SiLU, per channel c: the window [channels, kernel] (oldest first) shifts
    /// left by one and takes x[c]; x[c] ← SiLU(Σ_k w[c, k]·window[c, k] + bias[c]) (bias may be null).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CausalConvStep(float* x, float* window, float* weight, float* bias, int channels, int kernel)
    {
        for (int c = 0; c < channels; c++)
        {
            float* wnd = window + (long)c * kernel, w = weight + (long)c * kernel;
            for (int k = 0; k < kernel - 1; k++) wnd[k] = wnd[k + 1];
            wnd[kernel - 1] = x[c];
            float acc = 0;
            for (int k = 0; k < kernel; k++) acc += wnd[k] * w[k];
            if (bias != null) acc += bias[c];
            x[c] = Silu(acc);
        }
    }

    /// <summary>Softmax of <paramref name="length"/> scores in place (max subtracted first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(float* scores, int length)
    {
        var s = new Span<float>(scores, length);
        float max = TensorPrimitives.Max(s);
        TensorPrimitives.Subtract(s, max, s);
        TensorPrimitives.Exp(s, s);
        TensorPrimitives.Multiply(s, 1f / TensorPrimitives.Sum(s), s);
    }
}
