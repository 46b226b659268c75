using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.IO.Safetensors;

/// <summary>
/// Moves raw tensor bytes between a stream and the native storage of a contiguous CPU tensor, without managed
/// per-element loops. <see cref="Tensor.bytes"/> exposes the native storage as a span (no copy) but is limited to
/// int.MaxValue bytes, so larger tensors are processed as 1-D slices.
/// </summary>
internal static class TensorBytes
{
    internal const long DefaultChunkBytes = 1L << 30;

    private delegate void SpanAction(Span<byte> span);

    /// <summary>Fills <paramref name="destination"/> with exactly its byte size read from <paramref name="stream"/>.</summary>
    public static void ReadExactly(Stream stream, Tensor destination, long chunkBytes = DefaultChunkBytes) =>
        ForEachChunk(destination, chunkBytes, span => stream.ReadExactly(span));

    /// <summary>Writes the raw bytes of <paramref name="source"/> to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, Tensor source, long chunkBytes = DefaultChunkBytes) =>
        ForEachChunk(source, chunkBytes, span => stream.Write(span));

    /// <summary>Total byte size (numel × element size).</summary>
    public static long ByteLength(Tensor tensor) => tensor.numel() * tensor.element_size();

    private static void ForEachChunk(Tensor tensor, long chunkBytes, SpanAction action)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
        {
            throw new ArgumentException("Raw byte transfer needs a contiguous CPU tensor.", nameof(tensor));
        }
        long total = ByteLength(tensor);
        if (total == 0)
        {
            return;
        }
        chunkBytes = Math.Min(chunkBytes, int.MaxValue);
        if (total <= chunkBytes)
        {
            action(tensor.bytes);
            return;
        }

        long elementSize = tensor.element_size();
        long elementsPerChunk = Math.Max(1, chunkBytes / elementSize);
        long count = tensor.numel();
        using var flat = tensor.reshape(-1);
        for (long start = 0; start < count; start += elementsPerChunk)
        {
            using var part = flat.narrow(0, start, Math.Min(elementsPerChunk, count - start));
            action(part.bytes);
        }
    }
}
