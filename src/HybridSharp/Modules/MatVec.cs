using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// Batched matrix × column vector, m [..., r, n] · v [..., n, 1] → [..., r, 1]: the readout y = h·C of every state-space
/// step. Without autograd it is computed as the row vector times the transposed matrix (vᵀ·mᵀ)ᵀ, which libtorch's CPU
/// kernels run 2–9× faster at the shapes of SSD and Mamba-1 states (bench <c>matvec</c>); under autograd the plain
/// product is kept (its backward is no slower).
/// </summary>
internal static class MatVec
{
    public static Tensor Apply(Tensor m, Tensor v) =>
        is_grad_enabled() ? m.matmul(v) : v.transpose(-1, -2).matmul(m.transpose(-1, -2)).transpose(-1, -2);
}
