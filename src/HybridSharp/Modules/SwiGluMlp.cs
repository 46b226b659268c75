// Gated feed-forward network (Shazeer 2020, "GLU Variants Improve Transformer"), Llama layout:
//   mlp(x) = down_proj( act(gate_proj(x)) ⊙ up_proj(x) ),  act = SiLU by default (SwiGLU)
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>SwiGLU MLP with weights gate_proj [I, d], up_proj [I, d], down_proj [d, I].</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>, IDecodeStepSource<IFfnDecodeStep>
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear gate_proj, up_proj, down_proj;
#pragma warning restore IDE1006
    private readonly string _act;

    public SwiGluMlp(ModelConfig cfg) : this(cfg.HiddenSize, cfg.IntermediateSize, cfg.MlpBias, cfg.HiddenAct) { }

    public SwiGluMlp(long hidden, long intermediate, bool bias, string act) : base("SwiGluMlp")
    {
        _act = act;
        gate_proj = nn.Linear(hidden, intermediate, hasBias: bias);
        up_proj = nn.Linear(hidden, intermediate, hasBias: bias);
        down_proj = nn.Linear(intermediate, hidden, hasBias: bias);
        RegisterComponents();
    }

    /// <summary>The managed one-token step over the same weights; null for activations it does not implement (gelu).</summary>
    public unsafe IFfnDecodeStep? CreateDecodeStep(MatrixStore weights) =>
        !RowOps.Supports(_act) ? null : new SwiGluDecodeStep((int)gate_proj.weight!.size(1), (int)gate_proj.weight!.size(0), _act,
            weights.Get(gate_proj.weight!), weights.Get(up_proj.weight!), weights.Get(down_proj.weight!),
            TensorMemory.Float32OrNull(gate_proj.bias), TensorMemory.Float32OrNull(up_proj.bias), TensorMemory.Float32OrNull(down_proj.bias));

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var g = gate_proj.forward(x);
        if (!is_grad_enabled() && _act == "silu")
        {
            // Inference: activation and gating in place (two allocations fewer per call; decode is bound by them).
            g = nn.functional.silu(g, inplace: true).mul_(up_proj.forward(x));
            return down_proj.forward(g).MoveToOuterDisposeScope();
        }
        g = _act switch
        {
            "gelu" => nn.functional.gelu(g),
            "relu" => nn.functional.relu(g),
            _ => nn.functional.silu(g),
        };
        return down_proj.forward(g.mul(up_proj.forward(x))).MoveToOuterDisposeScope();
    }
}
