using TorchSharp;

namespace HybridSharp.IO.Safetensors;

/// <summary>One tensor entry of a safetensors header.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DType">The dtype string as stored (e.g. "BF16").</param>
/// <param name="Shape">Dimensions; empty for a 0-dim tensor.</param>
/// <param name="DataBegin">Start offset, relative to the start of the data section.</param>
/// <param name="DataEnd">End offset (exclusive), relative to the start of the data section.</param>
public sealed record SafetensorsTensorInfo(string Name, string DType, IReadOnlyList<long> Shape, long DataBegin, long DataEnd)
{
    /// <summary>Number of bytes of tensor data.</summary>
    public long ByteLength => DataEnd - DataBegin;

    /// <summary>Number of elements (1 for a 0-dim tensor).</summary>
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    /// <summary>The TorchSharp scalar type, or null when HybridSharp cannot load this dtype (U16/U32/U64, F8_*, C64).</summary>
    public torch.ScalarType? ScalarType => SafetensorsDType.TryGetScalarType(DType, out var st) ? st : null;
}

/// <summary>
/// The validated header of a safetensors file: tensor entries (ordered by data offset), metadata and layout.
/// </summary>
public sealed class SafetensorsHeader
{
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    internal SafetensorsHeader(string filePath, long headerLength, long fileLength,
        IReadOnlyList<SafetensorsTensorInfo> tensorsByOffset, IReadOnlyDictionary<string, string> metadata)
    {
        FilePath = filePath;
        HeaderLength = headerLength;
        FileLength = fileLength;
        Tensors = tensorsByOffset;
        Metadata = metadata;
        _byName = tensorsByOffset.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file the header was read from.</summary>
    public string FilePath { get; }

    /// <summary>N, the JSON header length in bytes (including space padding).</summary>
    public long HeaderLength { get; }

    /// <summary>Total file length in bytes.</summary>
    public long FileLength { get; }

    /// <summary>Absolute file offset of the data section (8 + N).</summary>
    public long DataStart => 8 + HeaderLength;

    /// <summary>All tensor entries, sorted by data offset.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names, in data-offset order.</summary>
    public IEnumerable<string> Names => Tensors.Select(t => t.Name);

    /// <summary>True when the file holds a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Looks up a tensor entry by name.</summary>
    public bool TryGetTensor(string name, out SafetensorsTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>The tensor entry called <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> if absent.</summary>
    public SafetensorsTensorInfo this[string name] =>
        _byName.TryGetValue(name, out var info)
            ? info
            : throw new KeyNotFoundException($"Tensor '{name}' is not in '{FilePath}'.");
}
