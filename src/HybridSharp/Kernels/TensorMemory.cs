using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.Kernels;

/// <summary>
/// Raw access to the memory of contiguous CPU tensors, for the managed decode kernels. libtorch's CPU storage is native
/// memory that never moves, so a pointer stays valid as long as the tensor (or a view of it) is alive and is not
/// resized; callers keep the tensor referenced for that long.
/// </summary>
public static unsafe class TensorMemory
{
    /// <summary>The address of element 0 of <paramref name="tensor"/>, which must be a contiguous CPU tensor of <paramref name="dtype"/>.</summary>
    public static void* Pointer(Tensor tensor, ScalarType dtype)
    {
        if (tensor.device_type != DeviceType.CPU) throw new InvalidOperationException("managed kernels read CPU tensors only");
        if (tensor.dtype != dtype) throw new InvalidOperationException($"managed kernels expected {dtype}, got {tensor.dtype}");
        if (!tensor.is_contiguous()) throw new InvalidOperationException("managed kernels read contiguous tensors only");
        if (tensor.numel() == 0) return null;
        return First(tensor);
    }

    /// <summary>fp32 pointer to <paramref name="tensor"/> (see <see cref="Pointer"/>).</summary>
    public static float* Float32(Tensor tensor) => (float*)Pointer(tensor, ScalarType.Float32);

    /// <summary>fp32 pointer to an optional tensor; null stays null.</summary>
    public static float* Float32OrNull(Tensor? tensor) => tensor is null ? null : Float32(tensor);

    /// <summary>The tensor's first byte (no checks), also used as its identity: views share it with their base.</summary>
    public static nint Address(Tensor tensor) => tensor.numel() == 0 ? 0 : (nint)First(tensor);

    private static void* First(Tensor tensor)
    {
        // TorchSharp's byte span of a tensor is int-sized: past 2 GiB, take the address of a one-element view instead.
        if (tensor.numel() * tensor.element_size() > int.MaxValue)
        {
            using var flat = tensor.reshape(-1);
            using var first = flat.narrow(0, 0, 1);
            fixed (byte* q = first.bytes) return q;
        }
        fixed (byte* p = tensor.bytes) return p;   // native memory: "fixed" pins nothing, it only yields the address
    }
}
