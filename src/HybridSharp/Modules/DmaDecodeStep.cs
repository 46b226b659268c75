using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using HybridSharp.Caching;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>
/// One decode token of <see cref="DynamicMaskAttention"/> (same equations): q, k, v in one pass; optional q/k RMSNorm;
/// rotary on q and k; Δ = softplus(dt_proj(v)) written with k and v into the layer's <see cref="DmaKvCache"/>; per row
/// and mask head β_j = exp(A·Δ_j) over the row's keys, of which a row with more than w keys keeps its w largest (ties
/// to the latest keys, within the same relative tolerance as the tensor path); softmax(q·kᵀ/√P + β)·v; o_proj.
/// </summary>
internal sealed unsafe class DmaDecodeStep : IMixerDecodeStep
{
    public required int Layer { get; init; }
    public required int Hidden { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int MaskHeads { get; init; }
    public required bool Legacy { get; init; }
    public required int KeepWindow { get; init; }
    public required double NormEps { get; init; }
    public required PackedMatrix Wq { get; init; }
    public required PackedMatrix Wk { get; init; }
    public required PackedMatrix Wv { get; init; }
    public required PackedMatrix Wo { get; init; }
    public required PackedMatrix DtProj { get; init; }
    public required float* Bq { get; init; }
    public required float* Bk { get; init; }
    public required float* Bv { get; init; }
    public required float* Bo { get; init; }
    public required float* DtBias { get; init; }
    public required float* A { get; init; }
    public required float* QNorm { get; init; }
    public required float* KNorm { get; init; }

    private readonly ScratchBuffer _q = new(), _k = new(), _v = new(), _o = new(), _delta = new();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(float* x, float* y, DecodeContext context)
    {
        int n = context.Rows, qWidth = Heads * HeadDim, kvWidth = KvHeads * HeadDim;
        float* q = _q.Get((long)n * qWidth), k = _k.Get((long)n * kvWidth), v = _v.Get((long)n * kvWidth), o = _o.Get((long)n * qWidth);
        float* delta = _delta.Get((long)n * MaskHeads);
        MatVecKernel.Run(n, new MatVecJob(Wq, Bq, x, Hidden, q, qWidth), new MatVecJob(Wk, Bk, x, Hidden, k, kvWidth), new MatVecJob(Wv, Bv, x, Hidden, v, kvWidth));
        MatVecKernel.Run(n, new MatVecJob(DtProj, DtBias, v, kvWidth, delta, MaskHeads));   // from the unrotated values

        var cache = (DmaKvCache)(context.Cache.Layers[Layer] ?? throw new InvalidOperationException($"layer {Layer}: no DMA cache"));
        float* keys = TensorMemory.Float32(cache.Kv.Keys), values = TensorMemory.Float32(cache.Kv.Values), deltas = TensorMemory.Float32(cache.Delta);
        long capacity = cache.Kv.Keys.size(2);
        context.RotaryTables(context.Rotary, out float* cos, out float* sin);
        for (int b = 0; b < n; b++)
        {
            long pos = context.Positions[b];
            if (pos + 1 > capacity) throw new InvalidOperationException($"KV cache overflow: {pos + 1} tokens exceed its capacity of {capacity}");
            float* qb = q + (long)b * qWidth, kb = k + (long)b * kvWidth, vb = v + (long)b * kvWidth;
            if (QNorm != null)
            {
                for (int h = 0; h < Heads; h++) RowOps.RmsNorm(qb + (long)h * HeadDim, QNorm, qb + (long)h * HeadDim, HeadDim, NormEps);
                for (int h = 0; h < KvHeads; h++) RowOps.RmsNorm(kb + (long)h * HeadDim, KNorm, kb + (long)h * HeadDim, HeadDim, NormEps);
            }
            RowOps.Rotate(qb, Heads, HeadDim, cos + (long)b * HeadDim, sin + (long)b * HeadDim);
            RowOps.Rotate(kb, KvHeads, HeadDim, cos + (long)b * HeadDim, sin + (long)b * HeadDim);
            AttentionDecodeStep.WriteKv(kb, vb, keys, values, b, pos, KvHeads, HeadDim, capacity);
            for (int m = 0; m < MaskHeads; m++) deltas[((long)b * MaskHeads + m) * capacity + pos] = RowOps.Softplus(delta[(long)b * MaskHeads + m]);
        }

        int perMask = Legacy ? 1 : Heads / KvHeads, g = Heads / KvHeads;
        var positions = context.Positions;
        Parallel.For(0, n * MaskHeads, new ParallelOptions { MaxDegreeOfParallelism = n * MaskHeads > 1 ? KernelThreads.Count : 1 }, i =>
        {
            int b = i / MaskHeads, m = i % MaskHeads, length = checked((int)positions[b] + 1);
            float[] bias = ArrayPool<float>.Shared.Rent(length), scores = ArrayPool<float>.Shared.Rent(length);
            try
            {
                float* deltaRow = deltas + ((long)b * MaskHeads + m) * capacity;
                for (int j = 0; j < length; j++) bias[j] = MathF.Exp(A[m] * deltaRow[j]);
                var kept = length > KeepWindow ? KeepLargest(bias.AsSpan(0, length), KeepWindow) : null;
                for (int h = m * perMask; h < (m + 1) * perMask; h++)
                    Attend(b, h, h / g, length, bias, kept, scores, q, o, keys, values, capacity);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(bias);
                ArrayPool<float>.Shared.Return(scores);
            }
        });
        MatVecKernel.Run(n, new MatVecJob(Wo, Bo, o, qWidth, y, Hidden));
    }

    private void Attend(int b, int h, int kvh, int length, float[] bias, bool[]? kept, float[] scores, float* q, float* o, float* keys, float* values, long capacity)
    {
        float* qh = q + ((long)b * Heads + h) * HeadDim, oh = o + ((long)b * Heads + h) * HeadDim;
        float* kBase = keys + ((long)b * KvHeads + kvh) * capacity * HeadDim, vBase = values + ((long)b * KvHeads + kvh) * capacity * HeadDim;
        var qs = new ReadOnlySpan<float>(qh, HeadDim);
        float scale = 1f / MathF.Sqrt(HeadDim), max = float.NegativeInfinity;
        for (int j = 0; j < length; j++)
        {
            if (kept is not null && !kept[j]) continue;
            scores[j] = TensorPrimitives.Dot(qs, new ReadOnlySpan<float>(kBase + (long)j * HeadDim, HeadDim)) * scale + bias[j];
            max = Math.Max(max, scores[j]);
        }
        float sum = 0;
        for (int j = 0; j < length; j++)
        {
            if (kept is not null && !kept[j]) continue;
            scores[j] = MathF.Exp(scores[j] - max);
            sum += scores[j];
        }
        var os = new Span<float>(oh, HeadDim);
        os.Clear();
        for (int j = 0; j < length; j++)
        {
            if (kept is not null && !kept[j]) continue;
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(vBase + (long)j * HeadDim, HeadDim), scores[j] / sum, os, os);
        }
    }

    /// <summary>
    /// Which of the entries to keep: the <paramref name="keep"/> largest, where entries within the relative tie tolerance
    /// of the threshold count as tied and the latest of them are kept (<see cref="DynamicMaskAttention.KeepLargest"/>).
    /// </summary>
    internal static bool[] KeepLargest(ReadOnlySpan<float> beta, int keep)
    {
        var sorted = beta.ToArray();
        Array.Sort(sorted);
        float threshold = sorted[^keep];
        float tolerance = Math.Abs(threshold) * (float)DynamicMaskAttention.TieTolerance(TorchSharp.torch.ScalarType.Float32);
        var kept = new bool[beta.Length];
        int above = 0;
        for (int j = 0; j < beta.Length; j++)
            if (beta[j] > threshold + tolerance) { kept[j] = true; above++; }
        int need = keep - above;
        for (int j = beta.Length - 1; j >= 0 && need > 0; j--)
            if (!kept[j] && beta[j] >= threshold - tolerance) { kept[j] = true; need--; }
        return kept;
    }
}
