using static TorchSharp.torch;

namespace HybridSharp.Kernels;

/// <summary>
/// The packed (bf16 or int8) copies of a model's weight matrices, keyed by the memory of the fp32 tensor they were made
/// from; a matrix without a packed copy is read in place as fp32. Owned by the model; disposing frees the copies.
/// </summary>
public sealed class MatrixStore : IDisposable
{
    private readonly Dictionary<nint, PackedMatrix> _packed = [];

    /// <summary>The format the store's packed matrices use (fp32 when it holds none).</summary>
    public WeightFormat Format { get; private set; } = WeightFormat.Float32;

    /// <summary>The matrix the kernels multiply with for <paramref name="weight"/> [rows, cols].</summary>
    public PackedMatrix Get(Tensor weight) =>
        _packed.TryGetValue(TensorMemory.Address(weight), out var m) ? m : new Float32Matrix(weight);

    /// <summary>
    /// Packs <paramref name="weight"/> (a contiguous fp32 CPU matrix) in <paramref name="format"/> and overwrites it with
    /// the values the packed copy stands for, so that full forwards (prefill, scoring) and the decode kernels compute with
    /// the same weights. Packing the same tensor twice keeps the first copy.
    /// </summary>
    public unsafe void Pack(Tensor weight, WeightFormat format)
    {
        if (format == WeightFormat.Float32) return;
        if (Format != WeightFormat.Float32 && Format != format) throw new InvalidOperationException($"weights are already packed as {Format.Name()}");
        nint key = TensorMemory.Address(weight);
        if (_packed.ContainsKey(key)) return;
        int rows = checked((int)weight.size(0)), cols = checked((int)weight.size(1));
        var source = new ReadOnlySpan<float>(TensorMemory.Float32(weight), rows * cols);
        PackedMatrix packed = format == WeightFormat.Int8 ? Int8Matrix.Quantize(source, rows, cols) : BFloat16Matrix.Quantize(source, rows, cols);
        packed.ReadAll(new Span<float>(TensorMemory.Float32(weight), rows * cols));
        _packed[key] = packed;
        Format = format;
    }

    /// <summary>Bytes of all packed copies.</summary>
    public long PackedBytes => _packed.Values.Sum(m => m.Bytes);

    public void Dispose()
    {
        foreach (var m in _packed.Values) m.Dispose();
        _packed.Clear();
    }
}
