using TorchSharp;

namespace HybridSharp.IO.Safetensors;

/// <summary>
/// The safetensors dtype strings, their sizes, and the mapping to TorchSharp <see cref="torch.ScalarType"/>.
/// </summary>
public static class SafetensorsDType
{
    private readonly record struct DTypeInfo(int Bits, torch.ScalarType? ScalarType);

    private static readonly Dictionary<string, DTypeInfo> Known = new(StringComparer.Ordinal)
    {
        ["BOOL"] = new(8, torch.ScalarType.Bool),
        ["F4"] = new(4, null),
        ["F6_E2M3"] = new(6, null),
        ["F6_E3M2"] = new(6, null),
        ["U8"] = new(8, torch.ScalarType.Byte),
        ["I8"] = new(8, torch.ScalarType.Int8),
        ["F8_E5M2"] = new(8, null),
        ["F8_E4M3"] = new(8, null),
        ["F8_E8M0"] = new(8, null),
        ["F8_E4M3FNUZ"] = new(8, null),
        ["F8_E5M2FNUZ"] = new(8, null),
        ["I16"] = new(16, torch.ScalarType.Int16),
        ["U16"] = new(16, null),
        ["F16"] = new(16, torch.ScalarType.Float16),
        ["BF16"] = new(16, torch.ScalarType.BFloat16),
        ["I32"] = new(32, torch.ScalarType.Int32),
        ["U32"] = new(32, null),
        ["F32"] = new(32, torch.ScalarType.Float32),
        ["C64"] = new(64, null),
        ["F64"] = new(64, torch.ScalarType.Float64),
        ["I64"] = new(64, torch.ScalarType.Int64),
        ["U64"] = new(64, null),
    };

    private static readonly Dictionary<torch.ScalarType, string> NamesByScalarType =
        Known.Where(kv => kv.Value.ScalarType is not null).ToDictionary(kv => kv.Value.ScalarType!.Value, kv => kv.Key);

    /// <summary>True when <paramref name="dtype"/> is one of the dtype strings of the format (case-sensitive).</summary>
    public static bool IsKnown(string dtype) => Known.ContainsKey(dtype);

    /// <summary>True for the known types whose elements are smaller than a byte (F4, F6_*), which HybridSharp rejects.</summary>
    public static bool IsSubByte(string dtype) => Known.TryGetValue(dtype, out var info) && info.Bits < 8;

    /// <summary>Bytes per element of a known whole-byte dtype; null for unknown or sub-byte types.</summary>
    public static int? ByteSize(string dtype) =>
        Known.TryGetValue(dtype, out var info) && info.Bits % 8 == 0 ? info.Bits / 8 : null;

    /// <summary>Maps a dtype string to the TorchSharp scalar type; false for unknown types and types TorchSharp cannot hold.</summary>
    public static bool TryGetScalarType(string dtype, out torch.ScalarType scalarType)
    {
        if (Known.TryGetValue(dtype, out var info) && info.ScalarType is { } st)
        {
            scalarType = st;
            return true;
        }
        scalarType = default;
        return false;
    }

    /// <summary>Maps a TorchSharp scalar type to its dtype string; false for types this format mapping does not cover.</summary>
    public static bool TryGetName(torch.ScalarType scalarType, out string dtype) =>
        NamesByScalarType.TryGetValue(scalarType, out dtype!);
}
