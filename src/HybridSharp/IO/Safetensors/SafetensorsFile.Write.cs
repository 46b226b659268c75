using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.IO.Safetensors;

public static partial class SafetensorsFile
{
    private sealed record PlannedTensor(string Name, Tensor Source, string DType, int ElementBytes, long[] Shape, long Begin, long End);

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> atomically (temp file + rename).
    /// Each tensor is written as a contiguous little-endian CPU copy in its own dtype; tensors are ordered by
    /// descending element size, then name. The header carries <c>"__metadata__"</c> with <c>"format": "pt"</c>
    /// plus <paramref name="metadata"/> (whose entries win, including "format"), and is space-padded so the
    /// data section starts at a multiple of 8.
    /// </summary>
    /// <exception cref="ArgumentException">A name is <c>__metadata__</c>, a tensor is disposed, or its dtype has no safetensors mapping.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        EnsureLittleEndianHost();

        var plan = Plan(tensors);
        byte[] header = SerializeHeader(plan, metadata);
        if (header.Length > MaxHeaderLength)
        {
            throw new ArgumentException($"The safetensors header would be {header.Length} bytes, over the {MaxHeaderLength}-byte limit.", nameof(tensors));
        }

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var entry in plan)
            {
                WriteTensorData(stream, entry.Source);
            }
        });
    }

    private static List<PlannedTensor> Plan(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var entries = new List<(string Name, Tensor Tensor, string DType, int ElementBytes)>(tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            if (name == SafetensorsHeaderParser.MetadataKey)
            {
                throw new ArgumentException($"'{SafetensorsHeaderParser.MetadataKey}' is reserved and cannot be a tensor name.", nameof(tensors));
            }
            if (tensor is null || tensor.IsInvalid)
            {
                throw new ArgumentException($"Tensor '{name}' is null or disposed.", nameof(tensors));
            }
            if (!SafetensorsDType.TryGetName(tensor.dtype, out string dtype))
            {
                throw new ArgumentException($"Tensor '{name}' has dtype {tensor.dtype}, which cannot be written as safetensors.", nameof(tensors));
            }
            entries.Add((name, tensor, dtype, SafetensorsDType.ByteSize(dtype)!.Value));
        }

        var plan = new List<PlannedTensor>(entries.Count);
        long offset = 0;
        foreach (var e in entries.OrderByDescending(e => e.ElementBytes).ThenBy(e => e.Name, StringComparer.Ordinal))
        {
            long[] shape = e.Tensor.shape;
            long bytes = e.Tensor.numel() * e.ElementBytes;
            plan.Add(new PlannedTensor(e.Name, e.Tensor, e.DType, e.ElementBytes, shape, offset, offset + bytes));
            offset += bytes;
        }
        return plan;
    }

    private static byte[] SerializeHeader(List<PlannedTensor> plan, IReadOnlyDictionary<string, string>? metadata)
    {
        var merged = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "pt" };
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                merged[key] = value ?? throw new ArgumentException($"Metadata value for '{key}' is null.", nameof(metadata));
            }
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartObject(SafetensorsHeaderParser.MetadataKey);
            foreach (var (key, value) in merged)
            {
                writer.WriteString(key, value);
            }
            writer.WriteEndObject();
            foreach (var entry in plan)
            {
                writer.WriteStartObject(entry.Name);
                writer.WriteString("dtype", entry.DType);
                writer.WriteStartArray("shape");
                foreach (long d in entry.Shape)
                {
                    writer.WriteNumberValue(d);
                }
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(entry.Begin);
                writer.WriteNumberValue(entry.End);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }

        int length = buffer.WrittenCount;
        int padded = (length + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    /// <summary>Writes one tensor's bytes through a detached, contiguous CPU view or copy that is disposed right after.</summary>
    private static void WriteTensorData(Stream stream, Tensor source)
    {
        var current = source.detach();
        try
        {
            current = Replace(current, current.cpu());
            current = Replace(current, current.contiguous());
            TensorBytes.Write(stream, current);
        }
        finally
        {
            current.Dispose();
        }
    }

    /// <summary>Disposes <paramref name="previous"/> unless TorchSharp returned the same managed object.</summary>
    private static Tensor Replace(Tensor previous, Tensor next)
    {
        if (!ReferenceEquals(previous, next))
        {
            previous.Dispose();
        }
        return next;
    }
}
