using HybridSharp.Kernels;
using System.Runtime.CompilerServices;

namespace HybridSharp.Modules;

/// <summary>
/// One decode token of a <see cref="DecoderLayer"/> (same equations): h = r₁ ⊙ h + Mixer(RMSNorm(h)), then
/// h = r₂ ⊙ h + FFN(RMSNorm(h)), then the OTCE Expresser tail where the layer has one, on the hidden rows in place.
/// </summary>
public sealed unsafe class LayerDecodeStep
{
    private readonly int _hidden;
    private readonly double _eps;
    private readonly float* _inputNorm, _postNorm, _inputResidual, _postResidual;
    private readonly IMixerDecodeStep _mixer;
    private readonly IFfnDecodeStep? _ffn;
    private readonly ExpresserDecodeStep? _tail;
    private readonly ScratchBuffer _normed = new(), _out = new(), _blockInput = new();

    internal LayerDecodeStep(int hidden, double eps, float* inputNorm, IMixerDecodeStep mixer, float* inputResidual,
        float* postNorm, IFfnDecodeStep? ffn, float* postResidual, ExpresserDecodeStep? tail)
    {
        _tail = tail;
        _hidden = hidden;
        _eps = eps;
        _inputNorm = inputNorm;
        _mixer = mixer;
        _inputResidual = inputResidual;
        _postNorm = postNorm;
        _ffn = ffn;
        _postResidual = postResidual;
    }

    /// <summary>Advances h [rows, d] through the layer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(float* h, DecodeContext context)
    {
        int n = context.Rows;
        float* normed = _normed.Get((long)n * _hidden), output = _out.Get((long)n * _hidden), h0 = null;
        if (_tail is not null)
        {
            h0 = _blockInput.Get((long)n * _hidden);
            new ReadOnlySpan<float>(h, n * _hidden).CopyTo(new Span<float>(h0, n * _hidden));
        }
        for (int b = 0; b < n; b++) RowOps.RmsNorm(h + (long)b * _hidden, _inputNorm, normed + (long)b * _hidden, _hidden, _eps);
        _mixer.Run(normed, output, context);
        Residual(h, output, _inputResidual, n);
        if (_ffn is not null)
        {
            for (int b = 0; b < n; b++) RowOps.RmsNorm(h + (long)b * _hidden, _postNorm, normed + (long)b * _hidden, _hidden, _eps);
            _ffn.Run(normed, output, n);
            Residual(h, output, _postResidual, n);
        }
        _tail?.Run(h, h0, n);
    }

    /// <summary>h ← out + h ⊙ r (r null: out + h).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Residual(float* h, float* output, float* residual, int n)
    {
        for (int b = 0; b < n; b++)
        {
            float* hb = h + (long)b * _hidden, ob = output + (long)b * _hidden;
            if (residual == null)
                for (int i = 0; i < _hidden; i++) hb[i] = ob[i] + hb[i];
            else
                for (int i = 0; i < _hidden; i++) hb[i] = ob[i] + hb[i] * residual[i];
        }
    }
}
