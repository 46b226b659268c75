using HybridSharp.Caching;
using HybridSharp.Kernels;
using System.Runtime.CompilerServices;

namespace HybridSharp.Modules;

/// <summary>
/// What every layer's managed decode step reads for one token per row: the row count, each row's absolute position (the
/// cache index its token is written at), the rotary tables at those positions, the OTCE logn factors and the model's
/// cache (a view of exactly these rows). Built once per step by the model's <c>DecodePlan</c>; used on one thread.
/// </summary>
public sealed unsafe class DecodeContext
{
    private readonly Dictionary<RotaryEmbedding, (ScratchBuffer Cos, ScratchBuffer Sin)> _tables = [];
    private readonly HashSet<RotaryEmbedding> _tablesFilled = [];
    private readonly Dictionary<RotaryEmbedding, (double Theta, float[] Values)> _inverseFrequencies = [];

    public int Rows { get; private set; }
    public long[] Positions { get; private set; } = [];
    public InferenceCache Cache { get; private set; } = null!;
    /// <summary>The model's shared rotary table (attention head dim; SSD's state size when it rotates B and C).</summary>
    public required RotaryEmbedding Rotary { get; init; }
    /// <summary>The Mamba-1 state-dimension table when it differs from <see cref="Rotary"/>.</summary>
    public RotaryEmbedding? StateRotary { get; init; }
    /// <summary>True when the model scales Q (and Mamba-1's C) with the OTCE logn factor.</summary>
    public bool LognScaling { get; init; }

    /// <summary>Starts a step over <paramref name="positions"/>.Length rows.</summary>
    public void Begin(long[] positions, InferenceCache cache)
    {
        Rows = positions.Length;
        Positions = positions;
        Cache = cache;
        _tablesFilled.Clear();
    }

    /// <summary>cos / sin [Rows, Dim] of <paramref name="rotary"/> at this step's positions (computed once per step and table).</summary>
    public void RotaryTables(RotaryEmbedding rotary, out float* cos, out float* sin)
    {
        if (!_tables.TryGetValue(rotary, out var t))
        {
            t = (new ScratchBuffer(), new ScratchBuffer());
            _tables[rotary] = t;
        }
        cos = t.Cos.Get((long)Rows * rotary.Dim);
        sin = t.Sin.Get((long)Rows * rotary.Dim);
        if (_tablesFilled.Add(rotary)) Fill(rotary, cos, sin);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Fill(RotaryEmbedding rotary, float* cos, float* sin)
    {
        int dim = rotary.Dim, half = dim / 2;
        // Dynamic NTK: θ depends on the largest position of the call, as in the full forward.
        double theta = rotary.EffectiveTheta(Positions.Max());
        if (!_inverseFrequencies.TryGetValue(rotary, out var cached) || cached.Theta != theta)
            _inverseFrequencies[rotary] = cached = (theta, rotary.InverseFrequencies32(theta));   // once per table (and θ), not per step
        var inv = cached.Values;
        for (int b = 0; b < Rows; b++)
        {
            float p = Positions[b];
            for (int i = 0; i < half; i++)
            {
                float angle = p * inv[i];   // fp32 angle, as the tensor path computes it
                float c = (float)Math.Cos(angle), s = (float)Math.Sin(angle);
                cos[b * dim + i] = cos[b * dim + i + half] = c;
                sin[b * dim + i] = sin[b * dim + i + half] = s;
            }
        }
    }

    /// <summary>The logn factor of row <paramref name="row"/> (1 unless logn scaling is on and the position reaches 4032).</summary>
    public float Logn(int row) => LognScaling ? (float)Modules.LognScaling.Factor(Positions[row]) : 1f;
}

/// <summary>The managed one-token step of a sequence mixer: x [rows, d] (normalised) → y [rows, d].</summary>
public interface IMixerDecodeStep
{
    unsafe void Run(float* x, float* y, DecodeContext context);
}

/// <summary>The managed one-token step of an FFN: x [rows, d] (normalised) → y [rows, d].</summary>
public interface IFfnDecodeStep
{
    unsafe void Run(float* x, float* y, int rows);
}

/// <summary>Implemented by mixers and FFNs that have a managed decode step (null when a setting is not covered).</summary>
public interface IDecodeStepSource<T> where T : class
{
    T? CreateDecodeStep(MatrixStore weights);
}
