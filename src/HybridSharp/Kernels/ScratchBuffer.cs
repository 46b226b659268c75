namespace HybridSharp.Kernels;

/// <summary>A reusable fp32 work buffer on the pinned object heap: its address never changes while it is alive.</summary>
public sealed unsafe class ScratchBuffer
{
    private float[] _array = [];
    private float* _pointer;

    /// <summary>At least <paramref name="length"/> floats (contents undefined); grows, never shrinks.</summary>
    public float* Get(long length)
    {
        if (length > _array.Length)
        {
            _array = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(length, 2L * _array.Length)), pinned: true);
            fixed (float* p = _array) _pointer = p;   // pinned heap: the address stays valid after the fixed block
        }
        return _pointer;
    }
}
