using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;

namespace HybridSharp.IO.Safetensors;

/// <summary>Reads and validates the length prefix, JSON header and data layout of a safetensors file.</summary>
internal static class SafetensorsHeaderParser
{
    internal const string MetadataKey = "__metadata__";

    /// <summary>Reads the header from the start of <paramref name="stream"/> and validates it against the stream length.</summary>
    public static SafetensorsHeader Read(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw new SafetensorsFormatException(path, $"file is {fileLength} bytes, shorter than the 8-byte header-length prefix");
        }

        stream.Position = 0;
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (declared > SafetensorsFile.MaxHeaderLength)
        {
            throw new SafetensorsFormatException(path,
                $"header length {declared} exceeds the limit of {SafetensorsFile.MaxHeaderLength} bytes");
        }

        long headerLength = (long)declared;
        if (8 + headerLength > fileLength)
        {
            throw new SafetensorsFormatException(path,
                $"header length {headerLength} runs past the end of the file ({fileLength} bytes)");
        }

        var json = new byte[headerLength];
        stream.ReadExactly(json);
        return Parse(path, json, headerLength, fileLength);
    }

    private static SafetensorsHeader Parse(string path, byte[] json, long headerLength, long fileLength)
    {
        if (json.Length == 0 || json[0] != (byte)'{')
        {
            throw new SafetensorsFormatException(path, "header does not start with '{' (expected a JSON object)");
        }

        if (!Utf8.IsValid(json))
        {
            throw new SafetensorsFormatException(path, "header is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new SafetensorsFormatException(path, $"header is not valid JSON ({OneLine(ex.Message)})", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(path, $"header is a JSON {root.ValueKind}, expected an object");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            var tensors = new List<SafetensorsTensorInfo>();
            IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw new SafetensorsFormatException(path, $"duplicate key '{property.Name}' in header");
                }
                if (property.Name == MetadataKey)
                {
                    metadata = ParseMetadata(path, property.Value);
                }
                else
                {
                    tensors.Add(ParseTensor(path, property.Name, property.Value));
                }
            }

            long dataLength = fileLength - 8 - headerLength;
            var ordered = ValidateLayout(path, tensors, dataLength);
            return new SafetensorsHeader(path, headerLength, fileLength, ordered, metadata);
        }
    }

    private static Dictionary<string, string> ParseMetadata(string path, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, $"'{MetadataKey}' is a JSON {value.ValueKind}, expected an object of strings");
        }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafetensorsFormatException(path,
                    $"'{MetadataKey}' value for '{entry.Name}' is a JSON {entry.Value.ValueKind}, expected a string");
            }
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
            {
                throw new SafetensorsFormatException(path, $"duplicate key '{entry.Name}' in '{MetadataKey}'");
            }
        }
        return metadata;
    }

    private static SafetensorsTensorInfo ParseTensor(string path, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, $"entry for tensor '{name}' is a JSON {value.ValueKind}, expected an object");
        }

        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        var fields = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in value.EnumerateObject())
        {
            if (!fields.Add(field.Name))
            {
                throw new SafetensorsFormatException(path, $"duplicate key '{field.Name}' in entry for tensor '{name}'");
            }
            switch (field.Name)
            {
                case "dtype": dtypeElement = field.Value; break;
                case "shape": shapeElement = field.Value; break;
                case "data_offsets": offsetsElement = field.Value; break;
                default: break; // Unknown fields are ignored, as the reference reader does.
            }
        }

        if (dtypeElement is not { ValueKind: JsonValueKind.String } dtypeValue)
        {
            throw new SafetensorsFormatException(path, $"tensor '{name}' has no string 'dtype'");
        }
        string dtype = dtypeValue.GetString()!;
        if (!SafetensorsDType.IsKnown(dtype))
        {
            throw new SafetensorsFormatException(path, $"tensor '{name}' has unknown dtype '{dtype}'");
        }
        if (SafetensorsDType.IsSubByte(dtype))
        {
            throw new SafetensorsFormatException(path, $"tensor '{name}' has sub-byte dtype '{dtype}', which is not supported");
        }

        if (shapeElement is not { ValueKind: JsonValueKind.Array } shapeValue)
        {
            throw new SafetensorsFormatException(path, $"tensor '{name}' has no 'shape' array");
        }
        var shape = new long[shapeValue.GetArrayLength()];
        int i = 0;
        foreach (var dim in shapeValue.EnumerateArray())
        {
            if (!TryGetNonNegativeInteger(dim, out shape[i++]))
            {
                throw new SafetensorsFormatException(path,
                    $"tensor '{name}' has shape {OneLine(shapeValue.GetRawText())}, expected non-negative integers");
            }
        }

        if (offsetsElement is not { ValueKind: JsonValueKind.Array } offsetsValue || offsetsValue.GetArrayLength() != 2
            || !TryGetNonNegativeInteger(offsetsValue[0], out long begin) || !TryGetNonNegativeInteger(offsetsValue[1], out long end))
        {
            throw new SafetensorsFormatException(path, $"tensor '{name}' needs 'data_offsets' [BEGIN, END] of non-negative integers");
        }
        if (end < begin)
        {
            throw new SafetensorsFormatException(path, $"tensor '{name}' has data_offsets [{begin}, {end}] with END before BEGIN");
        }

        long expectedBytes;
        try
        {
            long count = 1;
            foreach (long d in shape)
            {
                count = checked(count * d);
            }
            expectedBytes = checked(count * SafetensorsDType.ByteSize(dtype)!.Value);
        }
        catch (OverflowException)
        {
            throw new SafetensorsFormatException(path, $"tensor '{name}' has shape {FormatShape(shape)} whose byte size overflows");
        }
        if (end - begin != expectedBytes)
        {
            throw new SafetensorsFormatException(path,
                $"tensor '{name}' ({dtype} {FormatShape(shape)}) needs {expectedBytes} bytes but data_offsets [{begin}, {end}] span {end - begin}");
        }

        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static List<SafetensorsTensorInfo> ValidateLayout(string path, List<SafetensorsTensorInfo> tensors, long dataLength)
    {
        var ordered = tensors
            .OrderBy(t => t.DataBegin)
            .ThenBy(t => t.DataEnd)
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

        long position = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (var t in ordered)
        {
            if (t.DataBegin != position)
            {
                string problem = previous is null
                    ? $"first tensor '{t.Name}' begins at data offset {t.DataBegin}, expected 0"
                    : t.DataBegin > position
                        ? $"gap of {t.DataBegin - position} bytes between tensor '{previous.Name}' (ends at {position}) and tensor '{t.Name}' (begins at {t.DataBegin})"
                        : $"tensor '{t.Name}' (begins at {t.DataBegin}) overlaps tensor '{previous.Name}' (ends at {position})";
                throw new SafetensorsFormatException(path, problem);
            }
            position = t.DataEnd;
            previous = t;
        }

        if (position != dataLength)
        {
            string problem = position < dataLength
                ? $"data section is {dataLength} bytes but tensors end at {position} ({dataLength - position} trailing bytes)"
                : $"tensors end at data offset {position}, past the {dataLength}-byte data section";
            throw new SafetensorsFormatException(path, problem);
        }
        return ordered;
    }

    /// <summary>Accepts only plain JSON integers (digits, no sign, fraction or exponent) that fit in a long.</summary>
    private static bool TryGetNonNegativeInteger(JsonElement element, out long value)
    {
        value = 0;
        if (element.ValueKind != JsonValueKind.Number)
        {
            return false;
        }
        string raw = element.GetRawText();
        foreach (char c in raw)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }
        return element.TryGetInt64(out value);
    }

    internal static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
