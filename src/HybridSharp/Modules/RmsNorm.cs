// RMSNorm (Zhang & Sennrich 2019), as used by Llama, Doge, Mamba-2 and every HybridSharp preset:
//   y = w ⊙ x / sqrt(mean(x², −1) + ε)
// computed in fp32 and cast back to the input dtype before the weight multiply (HF Llama order).
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>Root-mean-square layer norm over the last dimension, with a learnable scale <c>weight</c>.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Parameter weight;
#pragma warning restore IDE1006
    private readonly double _eps;

    public RmsNorm(long dim, double eps, string name = "RmsNorm") : base(name)
    {
        _eps = eps;
        weight = nn.Parameter(ones(dim));
        RegisterComponents();
    }

    public Parameter Weight => weight;
    public double Eps => _eps;

    public override Tensor forward(Tensor x) => Apply(x, weight, _eps);

    /// <summary>The norm as a function, for callers that hold the weight elsewhere (e.g. grouped norms).</summary>
    public static Tensor Apply(Tensor x, Tensor weight, double eps)
    {
        using var scope = NewDisposeScope();
        var dtype = x.dtype;
        if (dtype == ScalarType.Float32)
        {
            // fp32 input: no casts (each tensor op costs microseconds of overhead in one-token decode steps).
            var inv32 = x.mul(x).mean([-1], keepdim: true).add_(eps).rsqrt_();
            var y32 = x.mul(inv32);
            return (is_grad_enabled() ? y32.mul(weight) : y32.mul_(weight)).MoveToOuterDisposeScope();
        }
        var xf = x.to_type(ScalarType.Float32);
        var inv = xf.pow(2).mean([-1], keepdim: true).add_(eps).rsqrt_();
        var y = xf.mul(inv).to_type(dtype).mul(weight);
        return y.MoveToOuterDisposeScope();
    }
}
