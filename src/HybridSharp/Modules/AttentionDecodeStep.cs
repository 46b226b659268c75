using System.Buffers;
using System.Numerics.Tensors;
using HybridSharp.Caching;
using HybridSharp.Kernels;
using System.Runtime.CompilerServices;

namespace HybridSharp.Modules;

/// <summary>
/// One decode token of <see cref="Attention"/> (same equations): q, k, v in one parallel pass; rotary (and logn) on q and
/// k; k, v written into the layer's <see cref="KvCache"/> at each row's position; softmax(q·Kᵀ/√P)·V per head over the
/// row's own keys; o_proj.
/// </summary>
internal sealed unsafe class AttentionDecodeStep(int layer, int heads, int kvHeads, int headDim, int hidden,
    PackedMatrix wq, PackedMatrix wk, PackedMatrix wv, PackedMatrix wo, float* bq, float* bk, float* bv, float* bo) : IMixerDecodeStep
{
    private readonly ScratchBuffer _q = new(), _k = new(), _v = new(), _o = new();
    /// <summary>Below this many multiply-adds the heads run on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 15;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(float* x, float* y, DecodeContext context)
    {
        int n = context.Rows, qWidth = heads * headDim, kvWidth = kvHeads * headDim;
        float* q = _q.Get((long)n * qWidth), k = _k.Get((long)n * kvWidth), v = _v.Get((long)n * kvWidth), o = _o.Get((long)n * qWidth);
        MatVecKernel.Run(n, new MatVecJob(wq, bq, x, hidden, q, qWidth), new MatVecJob(wk, bk, x, hidden, k, kvWidth), new MatVecJob(wv, bv, x, hidden, v, kvWidth));

        var cache = (KvCache)(context.Cache.Layers[layer] ?? throw new InvalidOperationException($"layer {layer}: no KV cache"));
        float* keys = TensorMemory.Float32(cache.Keys), values = TensorMemory.Float32(cache.Values);
        long capacity = cache.Keys.size(2);
        context.RotaryTables(context.Rotary, out float* cos, out float* sin);
        long maxPosition = 0;
        for (int b = 0; b < n; b++)
        {
            long pos = context.Positions[b];
            if (pos + 1 > capacity) throw new InvalidOperationException($"KV cache overflow: {pos + 1} tokens exceed its capacity of {capacity}");
            maxPosition = Math.Max(maxPosition, pos);
            float* qb = q + (long)b * qWidth, kb = k + (long)b * kvWidth, vb = v + (long)b * kvWidth;
            RowOps.Rotate(qb, heads, headDim, cos + (long)b * headDim, sin + (long)b * headDim);
            float logn = context.Logn(b);
            if (logn != 1f) TensorPrimitives.Multiply(new ReadOnlySpan<float>(qb, qWidth), logn, new Span<float>(qb, qWidth));
            RowOps.Rotate(kb, kvHeads, headDim, cos + (long)b * headDim, sin + (long)b * headDim);
            WriteKv(kb, vb, keys, values, b, pos, kvHeads, headDim, capacity);
        }

        int pairs = n * heads;
        long work = (long)pairs * (maxPosition + 1) * headDim * 2;
        var positions = context.Positions;
        if (KernelThreads.Count <= 1 || work < ParallelThreshold)
            for (int i = 0; i < pairs; i++) Attend(i, q, o, keys, values, capacity, positions);
        else
            Parallel.For(0, pairs, KernelThreads.Options, i => Attend(i, q, o, keys, values, capacity, positions));

        MatVecKernel.Run(n, new MatVecJob(wo, bo, o, qWidth, y, hidden));
    }

    /// <summary>Writes row b's new keys and values (each [Hkv, P]) at position pos of a [B, Hkv, capacity, P] cache.</summary>
    internal static void WriteKv(float* k, float* v, float* keys, float* values, int b, long pos, int kvHeads, int headDim, long capacity)
    {
        for (int h = 0; h < kvHeads; h++)
        {
            long at = (((long)b * kvHeads + h) * capacity + pos) * headDim;
            new ReadOnlySpan<float>(k + (long)h * headDim, headDim).CopyTo(new Span<float>(keys + at, headDim));
            new ReadOnlySpan<float>(v + (long)h * headDim, headDim).CopyTo(new Span<float>(values + at, headDim));
        }
    }

    /// <summary>Head (i mod H) of row (i div H): softmax over the row's keys [0, position] of its KV head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Attend(int i, float* q, float* o, float* keys, float* values, long capacity, long[] positions)
    {
        int b = i / heads, h = i % heads, kvh = h / (heads / kvHeads);
        int length = checked((int)positions[b] + 1);
        float* qh = q + ((long)b * heads + h) * headDim, oh = o + ((long)b * heads + h) * headDim;
        float* kBase = keys + ((long)b * kvHeads + kvh) * capacity * headDim, vBase = values + ((long)b * kvHeads + kvh) * capacity * headDim;
        float[]? rented = length > 4096 ? ArrayPool<float>.Shared.Rent(length) : null;
        Span<float> scores = rented is null ? stackalloc float[length] : rented.AsSpan(0, length);
        fixed (float* s = scores)
        {
            RowKernels.Dots(kBase, length, headDim, qh, 1f / MathF.Sqrt(headDim), s);
            RowOps.Softmax(s, length);
            RowKernels.WeightedSum(vBase, length, headDim, s, oh);
        }
        if (rented is not null) ArrayPool<float>.Shared.Return(rented);
    }
}
