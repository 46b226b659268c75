using System.Text;
using HybridSharp.IO;

namespace HybridSharp.Checkpoints.Gguf;

/// <summary>Tensor encodings the GGUF writer produces (ggml type numbers).</summary>
public enum GgufTensorType
{
    F32 = 0,
    F16 = 1,
    /// <summary>Blocks of 32 values along a row: one fp16 scale d = max|x|/127, then 32 signed bytes round(x/d).</summary>
    Q8_0 = 8,
}

/// <summary>
/// Writes a GGUF (version 3) file, the format of llama.cpp and the engines built on it: the magic <c>GGUF</c>, version,
/// tensor and key counts, typed metadata key/values, tensor descriptors (name, dimensions innermost first, type, offset),
/// then the tensor data, each aligned to <see cref="Alignment"/> bytes. Little-endian throughout; written through a
/// temporary file and a rename.
/// </summary>
public sealed class GgufWriter
{
    public const int Alignment = 32;
    public const int Q8BlockSize = 32;

    private enum ValueType : uint { UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9 }

    private readonly List<(string Key, Action<BinaryWriter> Write)> _metadata = [];
    private readonly List<(string Name, long[] Dims, GgufTensorType Type, byte[] Data)> _tensors = [];

    public void Add(string key, string value) => _metadata.Add((key, w => { w.Write((uint)ValueType.String); WriteString(w, value); }));
    public void Add(string key, uint value) => _metadata.Add((key, w => { w.Write((uint)ValueType.UInt32); w.Write(value); }));
    public void Add(string key, float value) => _metadata.Add((key, w => { w.Write((uint)ValueType.Float32); w.Write(value); }));
    public void Add(string key, bool value) => _metadata.Add((key, w => { w.Write((uint)ValueType.Bool); w.Write(value ? (byte)1 : (byte)0); }));

    public void Add(string key, IReadOnlyList<string> values) => _metadata.Add((key, w =>
    {
        w.Write((uint)ValueType.Array);
        w.Write((uint)ValueType.String);
        w.Write((ulong)values.Count);
        foreach (var v in values) WriteString(w, v);
    }));

    public void Add(string key, IReadOnlyList<int> values) => _metadata.Add((key, w =>
    {
        w.Write((uint)ValueType.Array);
        w.Write((uint)ValueType.Int32);
        w.Write((ulong)values.Count);
        foreach (var v in values) w.Write(v);
    }));

    /// <summary>
    /// Adds a tensor given row-major values and its shape outermost first (PyTorch order, e.g. [out, in] for a linear
    /// weight); GGUF stores the dimensions innermost first. Q8_0 needs the innermost dimension to be a multiple of 32.
    /// </summary>
    public void AddTensor(string name, float[] values, long[] shape, GgufTensorType type)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length) throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] holds {count} values, got {values.Length}");
        var dims = shape.Reverse().ToArray();
        byte[] data = type switch
        {
            GgufTensorType.F32 => F32(values),
            GgufTensorType.F16 => F16(values),
            GgufTensorType.Q8_0 => dims[0] % Q8BlockSize == 0 ? Q8(values)
                : throw new ArgumentException($"tensor '{name}': q8_0 needs rows of a multiple of {Q8BlockSize} values, got {dims[0]}"),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
        _tensors.Add((name, dims, type, data));
    }

    public int TensorCount => _tensors.Count;

    public void Write(string path)
    {
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            w.Write("GGUF"u8);
            w.Write(3u);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_metadata.Count);
            foreach (var (key, write) in _metadata)
            {
                WriteString(w, key);
                write(w);
            }
            long offset = 0;
            foreach (var (name, dims, type, data) in _tensors)
            {
                WriteString(w, name);
                w.Write((uint)dims.Length);
                foreach (var d in dims) w.Write((ulong)d);
                w.Write((uint)type);
                w.Write((ulong)offset);
                offset = Align(offset + data.Length);
            }
            Pad(w);
            foreach (var (_, _, _, data) in _tensors)
            {
                w.Write(data);
                Pad(w);
            }
        });
    }

    private static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w)
    {
        w.Flush();
        long pos = w.BaseStream.Position;
        for (long i = pos; i < Align(pos); i++) w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static byte[] F32(float[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    private static byte[] F16(float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (Half)values[i]);
        return bytes;
    }

    /// <summary>Q8_0 blocks: per 32 values an fp16 scale d = max|x|/127 and the bytes round(x/d) (as llama.cpp's quantiser).</summary>
    public static byte[] Q8(float[] values)
    {
        int blocks = values.Length / Q8BlockSize;
        var bytes = new byte[blocks * (2 + Q8BlockSize)];
        for (int b = 0; b < blocks; b++)
        {
            var block = values.AsSpan(b * Q8BlockSize, Q8BlockSize);
            float amax = 0;
            foreach (var v in block) amax = Math.Max(amax, Math.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            int at = b * (2 + Q8BlockSize);
            BitConverter.TryWriteBytes(bytes.AsSpan(at), (Half)d);
            for (int i = 0; i < Q8BlockSize; i++) bytes[at + 2 + i] = unchecked((byte)(sbyte)MathF.Round(block[i] * id, MidpointRounding.AwayFromZero));
        }
        return bytes;
    }
}
