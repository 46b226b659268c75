using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Training;

/// <summary>
/// The library's one weight-decay rule, used by every training loop: decay applies to parameters with ≥ 2 dimensions
/// (weight matrices, embeddings, conv kernels), except Mamba-1's <c>A_log</c> [d_in, N], which is an SSM scalar per
/// channel and state; norms, biases, residual vectors, <c>dt_bias</c>, <c>A_log</c> and <c>D</c> are not decayed.
/// </summary>
public static class WeightDecayGroups
{
    /// <summary>True when <paramref name="parameter"/> (named <paramref name="name"/>) gets weight decay.</summary>
    public static bool Decays(string name, Parameter parameter) =>
        parameter.dim() >= 2 && !name.EndsWith("A_log", StringComparison.Ordinal);

    /// <summary>AdamW over <paramref name="model"/>'s parameters in two groups: decayed and not.</summary>
    public static AdamW AdamW(nn.Module model, double learningRate, double weightDecay,
        double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        var decay = new List<Parameter>();
        var noDecay = new List<Parameter>();
        foreach (var (name, p) in model.named_parameters()) (Decays(name, p) ? decay : noDecay).Add(p);
        return optim.AdamW(
        [
            new AdamW.ParamGroup(decay, new AdamW.Options { LearningRate = learningRate, weight_decay = weightDecay, beta1 = beta1, beta2 = beta2, eps = epsilon }),
            new AdamW.ParamGroup(noDecay, new AdamW.Options { LearningRate = learningRate, weight_decay = 0, beta1 = beta1, beta2 = beta2, eps = epsilon }),
        ], learningRate, beta1, beta2, epsilon, weightDecay);
    }
}
