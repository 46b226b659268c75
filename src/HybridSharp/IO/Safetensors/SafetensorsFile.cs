using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.IO.Safetensors;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N, an N-byte
/// JSON header, then raw little-endian row-major tensor data with no gaps. Every read is fully validated and
/// rejected with <see cref="SafetensorsFormatException"/>.
/// </summary>
/// <remarks>
/// Loaded tensors are CPU tensors in the stored dtype. They are created in the caller's current dispose scope, if any;
/// the caller owns and disposes them.
/// </remarks>
public static partial class SafetensorsFile
{
    /// <summary>Largest accepted header length N in bytes (the reference implementation's cap).</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>Conventional file name of a single-file checkpoint.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>Conventional file name of a sharded checkpoint's index.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Reads and validates the header of <paramref name="path"/> without loading tensor data.</summary>
    public static SafetensorsHeader ReadHeader(string path)
    {
        using var stream = OpenRead(path);
        return SafetensorsHeaderParser.Read(stream, path);
    }

    /// <summary>Loads every tensor of <paramref name="path"/>.</summary>
    public static Dictionary<string, Tensor> Load(string path) => Load(path, include: null, out _);

    /// <summary>Loads every tensor of <paramref name="path"/> and returns the <c>__metadata__</c> map.</summary>
    public static Dictionary<string, Tensor> Load(string path, out IReadOnlyDictionary<string, string> metadata) =>
        Load(path, include: null, out metadata);

    /// <summary>Loads the tensors whose names satisfy <paramref name="include"/> (all when null).</summary>
    public static Dictionary<string, Tensor> Load(string path, Func<string, bool>? include) => Load(path, include, out _);

    /// <summary>Loads the tensors whose names satisfy <paramref name="include"/> (all when null) and returns the metadata.</summary>
    public static Dictionary<string, Tensor> Load(string path, Func<string, bool>? include, out IReadOnlyDictionary<string, string> metadata)
    {
        using var stream = OpenRead(path);
        var header = SafetensorsHeaderParser.Read(stream, path);
        metadata = header.Metadata;
        return LoadTensors(stream, header, header.Tensors.Where(t => include is null || include(t.Name)));
    }

    /// <summary>
    /// Loads exactly the tensors named in <paramref name="names"/>; throws <see cref="KeyNotFoundException"/> listing
    /// every requested name the file lacks.
    /// </summary>
    public static Dictionary<string, Tensor> LoadSubset(string path, IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        using var stream = OpenRead(path);
        var header = SafetensorsHeaderParser.Read(stream, path);
        var wanted = new HashSet<string>(names, StringComparer.Ordinal);
        var absent = wanted.Where(n => !header.Contains(n)).Order(StringComparer.Ordinal).ToList();
        if (absent.Count > 0)
        {
            throw new KeyNotFoundException($"'{path}' has no tensor named {NameList.Format(absent.Select(n => $"'{n}'").ToList())}.");
        }
        return LoadTensors(stream, header, header.Tensors.Where(t => wanted.Contains(t.Name)));
    }

    /// <summary>
    /// Loads a model directory: <c>model.safetensors</c> when present, otherwise the shards listed by
    /// <c>model.safetensors.index.json</c>.
    /// </summary>
    public static Dictionary<string, Tensor> LoadDirectory(string directory, Func<string, bool>? include = null)
    {
        string single = Path.Combine(directory, SingleFileName);
        if (File.Exists(single))
        {
            return Load(single, include);
        }
        if (File.Exists(Path.Combine(directory, IndexFileName)))
        {
            return LoadSharded(directory, include);
        }
        throw new FileNotFoundException($"'{directory}' holds neither {SingleFileName} nor {IndexFileName}.", single);
    }

    internal static FileStream OpenRead(string path) =>
        new(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            BufferSize = 0, // Data goes straight into tensor storage; the header is read in two calls.
            Options = FileOptions.SequentialScan,
        });

    /// <summary>Reads the given entries (of a validated header) from <paramref name="stream"/>, in offset order.</summary>
    internal static Dictionary<string, Tensor> LoadTensors(FileStream stream, SafetensorsHeader header, IEnumerable<SafetensorsTensorInfo> entries)
    {
        EnsureLittleEndianHost();
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var info in entries.OrderBy(e => e.DataBegin))
            {
                if (info.ScalarType is not { } scalarType)
                {
                    throw new NotSupportedException(
                        $"Tensor '{info.Name}' in '{header.FilePath}' has dtype {info.DType}, which HybridSharp cannot load.");
                }
                var tensor = torch.empty(info.Shape.ToArray(), dtype: scalarType, device: CPU);
                result.Add(info.Name, tensor);
                stream.Position = header.DataStart + info.DataBegin;
                TensorBytes.ReadExactly(stream, tensor);
            }
            return result;
        }
        catch
        {
            foreach (var tensor in result.Values)
            {
                tensor.Dispose();
            }
            throw;
        }
    }

    private static void EnsureLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors raw data is little-endian; big-endian hosts are not supported.");
        }
    }
}
