using HybridSharp.Caching;
using HybridSharp.Kernels;
using HybridSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.Models;

/// <summary>
/// The managed decode path: one token per row through every layer with vectorised .NET kernels over the model's own
/// weight memory (or its packed bf16 / int8 copies), instead of dozens of small libtorch calls per layer. Reads and
/// writes the same caches as the tensor path, so a prompt prefilled by the tensor path continues here and vice versa.
/// Built for fp32 CPU models whose every layer has a managed step (<see cref="TryCreate"/> says what is missing
/// otherwise). Use on the model's thread; the kernels split work across <see cref="KernelThreads"/> themselves.
/// </summary>
public sealed unsafe class DecodePlan
{
    private readonly CausalLM _model;   // keeps every weight the kernels point into alive
    private readonly LayerDecodeStep[] _layers;
    private readonly int _hidden, _vocab;
    private readonly float* _embedding, _finalNorm;
    private readonly double _eps;
    private readonly PackedMatrix _head;
    private readonly DecodeContext _context;
    private readonly ScratchBuffer _h = new(), _normed = new();

    private DecodePlan(CausalLM model, LayerDecodeStep[] layers)
    {
        _model = model;
        _layers = layers;
        _hidden = model.Config.HiddenSize;
        _vocab = checked((int)model.LmHeadWeight.size(0));
        _embedding = TensorMemory.Float32(model.EmbeddingWeight);
        _finalNorm = TensorMemory.Float32(model.FinalNormWeight);
        _eps = model.Config.RmsNormEps;
        _head = model.Weights.Get(model.LmHeadWeight);
        _context = new DecodeContext { Rotary = model.Rotary, StateRotary = model.StateRotary, LognScaling = model.Config.LognScaling };
    }

    /// <summary>The plan for <paramref name="model"/>, or null with what keeps it on the tensor path.</summary>
    public static DecodePlan? TryCreate(CausalLM model, out string? missing)
    {
        missing = Unsupported(model);
        if (missing is not null) return null;
        var steps = new LayerDecodeStep[model.Layers.Count];
        for (int i = 0; i < steps.Length; i++)
        {
            var (step, what) = model.Layers[i].CreateDecodeStep(model.Weights);
            if (step is null)
            {
                missing = $"layer {i}: {what} has no managed decode step";
                return null;
            }
            steps[i] = step;
        }
        return new DecodePlan(model, steps);
    }

    private static string? Unsupported(CausalLM model)
    {
        var w = model.LmHeadWeight;
        if (w.device_type != DeviceType.CPU) return "the model is not on the CPU";
        if (w.dtype != ScalarType.Float32) return $"the model runs in {w.dtype}, not fp32";
        return null;
    }

    /// <summary>
    /// One token per row: <paramref name="tokens"/>[b] at absolute position <paramref name="positions"/>[b], written
    /// into row b of <paramref name="cache"/> (whose layer caches must exist, as after a prefill or a slot allocation).
    /// Returns fp32 logits [rows, V]. The caller advances the cache's lengths.
    /// </summary>
    public Tensor Step(long[] tokens, long[] positions, InferenceCache cache)
    {
        int n = tokens.Length;
        if (positions.Length != n) throw new ArgumentException("one position per token");
        float* h = _h.Get((long)n * _hidden);
        for (int b = 0; b < n; b++)
        {
            long token = tokens[b];
            if ((ulong)token >= (ulong)_model.Config.VocabSize) throw new ArgumentException($"token id {token} is outside the vocabulary ({_model.Config.VocabSize})");
            new ReadOnlySpan<float>(_embedding + token * _hidden, _hidden).CopyTo(new Span<float>(h + (long)b * _hidden, _hidden));
        }
        _context.Begin(positions, cache);
        foreach (var layer in _layers) layer.Run(h, _context);
        float* normed = _normed.Get((long)n * _hidden);
        for (int b = 0; b < n; b++) RowOps.RmsNorm(h + (long)b * _hidden, _finalNorm, normed + (long)b * _hidden, _hidden, _eps);
        var logits = empty([n, _vocab], ScalarType.Float32);
        MatVecKernel.Run(n, new MatVecJob(_head, null, normed, _hidden, TensorMemory.Float32(logits), _vocab));
        return logits;
    }
}
