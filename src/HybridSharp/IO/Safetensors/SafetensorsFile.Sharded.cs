using System.Text.Json;
using System.Text.Unicode;
using static TorchSharp.torch;

namespace HybridSharp.IO.Safetensors;

public static partial class SafetensorsFile
{
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>
    /// Reads the <c>weight_map</c> (tensor name → shard file name) of a sharded checkpoint index.
    /// Shard names must be relative paths that stay inside the index's directory.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ReadShardIndex(string indexPath)
    {
        ReadOnlyMemory<byte> bytes = File.ReadAllBytes(indexPath);
        if (bytes.Span.StartsWith(Utf8Bom))
        {
            bytes = bytes[Utf8Bom.Length..];
        }
        if (!Utf8.IsValid(bytes.Span))
        {
            throw new SafetensorsFormatException(indexPath, "index is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            throw new SafetensorsFormatException(indexPath, $"index is not valid JSON ({ex.Message.ReplaceLineEndings(" ")})", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(indexPath, $"index is a JSON {root.ValueKind}, expected an object");
            }
            JsonElement? weightMap = null;
            var keys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!keys.Add(property.Name))
                {
                    throw new SafetensorsFormatException(indexPath, $"duplicate key '{property.Name}' in index");
                }
                if (property.Name == "weight_map")
                {
                    weightMap = property.Value;
                }
            }
            if (weightMap is not { ValueKind: JsonValueKind.Object } map)
            {
                throw new SafetensorsFormatException(indexPath, "index has no 'weight_map' object");
            }

            string directory = Path.GetFullPath(Path.GetDirectoryName(Path.GetFullPath(indexPath))!);
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new SafetensorsFormatException(indexPath, $"weight_map value for '{entry.Name}' is a JSON {entry.Value.ValueKind}, expected a file name");
                }
                string shard = entry.Value.GetString()!;
                string full = Path.GetFullPath(Path.Combine(directory, shard));
                if (shard.Length == 0 || Path.IsPathRooted(shard)
                    || !full.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                {
                    throw new SafetensorsFormatException(indexPath, $"weight_map shard '{shard}' for '{entry.Name}' is not a file inside the index's directory");
                }
                if (!result.TryAdd(entry.Name, shard))
                {
                    throw new SafetensorsFormatException(indexPath, $"duplicate key '{entry.Name}' in weight_map");
                }
            }
            return result;
        }
    }

    /// <summary>
    /// Loads a sharded checkpoint from <paramref name="directory"/>: reads <c>model.safetensors.index.json</c>, then
    /// each shard it names (fully validated). Only tensors listed in <c>weight_map</c> (and accepted by
    /// <paramref name="include"/>) are loaded; a listed tensor missing from its shard is a format error.
    /// </summary>
    public static Dictionary<string, Tensor> LoadSharded(string directory, Func<string, bool>? include = null)
    {
        string indexPath = Path.Combine(directory, IndexFileName);
        var weightMap = ReadShardIndex(indexPath);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            var byShard = weightMap
                .Where(kv => include is null || include(kv.Key))
                .GroupBy(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal);
            foreach (var shard in byShard)
            {
                string shardPath = Path.Combine(directory, shard.Key);
                if (!File.Exists(shardPath))
                {
                    throw new FileNotFoundException($"Shard '{shard.Key}' listed in '{indexPath}' does not exist.", shardPath);
                }
                using var stream = OpenRead(shardPath);
                var header = SafetensorsHeaderParser.Read(stream, shardPath);
                var wanted = new HashSet<string>(shard, StringComparer.Ordinal);
                var absent = wanted.Where(n => !header.Contains(n)).Order(StringComparer.Ordinal).ToList();
                if (absent.Count > 0)
                {
                    throw new SafetensorsFormatException(indexPath,
                        $"weight_map places {NameList.Format(absent.Select(n => $"'{n}'").ToList())} in shard '{shard.Key}', which does not contain it");
                }
                foreach (var (name, tensor) in LoadTensors(stream, header, header.Tensors.Where(t => wanted.Contains(t.Name))))
                {
                    result.Add(name, tensor);
                }
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
}
