using System.Buffers.Binary;
using System.Text;

namespace HybridSharp.Tests.IO;

/// <summary>A temporary directory deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "hs-io-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Builds raw safetensors files byte by byte, so malformed cases can be written exactly.</summary>
internal static class SafetensorsTestFiles
{
    /// <summary>Writes [8-byte N][header][data]; N is the header's UTF-8 length unless <paramref name="declaredHeaderLength"/> overrides it.</summary>
    public static string Write(string path, string header, byte[]? data = null, ulong? declaredHeaderLength = null)
    {
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        data ??= [];
        var bytes = new byte[8 + headerBytes.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength ?? (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + headerBytes.Length);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A tensor entry: <c>"name": {"dtype": ..., "shape": [...], "data_offsets": [b, e]}</c>.</summary>
    public static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    /// <summary>A header object made of the given entries.</summary>
    public static string Header(params string[] entries) => "{" + string.Join(",", entries) + "}";

    /// <summary>Sequential bytes 0, 1, 2, … (mod 256).</summary>
    public static byte[] Bytes(int count) => Enumerable.Range(0, count).Select(i => (byte)i).ToArray();
}
