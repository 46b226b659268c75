using HybridSharp.Kernels;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// A position-wise FFN without managed kernels (OTCE MLP and MoE, top-k MoE, GELU FFNs) inside a managed decode step:
/// the rows are copied into a tensor, the FFN's own tensor forward runs, and its output is copied back. The layer's
/// mixer and everything else stay managed.
/// </summary>
internal sealed unsafe class TensorFfnStep(nn.Module<Tensor, Tensor> ffn, int hidden) : IFfnDecodeStep
{
    public void Run(float* x, float* y, int rows)
    {
        using var scope = NewDisposeScope();
        var input = empty([rows, hidden], ScalarType.Float32);
        new ReadOnlySpan<float>(x, rows * hidden).CopyTo(new Span<float>(TensorMemory.Float32(input), rows * hidden));
        var output = ffn.forward(input).contiguous();
        new ReadOnlySpan<float>(TensorMemory.Float32(output), rows * hidden).CopyTo(new Span<float>(y, rows * hidden));
    }
}
