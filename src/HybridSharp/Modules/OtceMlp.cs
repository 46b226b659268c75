// The feed-forward form of OTCE (arXiv 2406.16495), used by its dense layers and its experts:
//   mlp(x) = down_proj( tanh(up_proj(x)) ⊙ SiLU(gate_proj(x)) )
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>OTCE MLP with weights gate_proj [I, d], up_proj [I, d], down_proj [d, I] (<c>mlp_types</c> entry "otce_mlp").</summary>
public sealed class OtceMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear gate_proj, up_proj, down_proj;
#pragma warning restore IDE1006

    public OtceMlp(ModelConfig cfg) : this(cfg.HiddenSize, cfg.IntermediateSize, cfg.MlpBias) { }

    public OtceMlp(long hidden, long intermediate, bool bias) : base("OtceMlp")
    {
        gate_proj = nn.Linear(hidden, intermediate, hasBias: bias);
        up_proj = nn.Linear(hidden, intermediate, hasBias: bias);
        down_proj = nn.Linear(intermediate, hidden, hasBias: bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = up_proj.forward(x).tanh().mul(nn.functional.silu(gate_proj.forward(x)));
        return down_proj.forward(h).MoveToOuterDisposeScope();
    }
}
