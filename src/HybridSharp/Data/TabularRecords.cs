using System.Text.Json;
using Parquet.Serialization;

namespace HybridSharp.Data;

/// <summary>
/// Reads records (one JSON object each) from a <c>.jsonl</c> file or a <c>.parquet</c> file (rows, nested lists and
/// structs included, become JSON objects), so chat data and problem sets share one parser whatever the file type.
/// </summary>
public static class TabularRecords
{
    /// <summary>Records of <paramref name="path"/> with their 1-based line (JSONL) or row (Parquet) number.</summary>
    public static IEnumerable<(long Number, JsonElement Record)> Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"data file not found: {path}", path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".jsonl" or ".json" => ReadJsonl(path),
            ".parquet" => ReadParquet(path),
            var ext => throw new ArgumentException($"cannot read '{path}': unknown extension '{ext}' (supported: .jsonl, .parquet)"),
        };
    }

    /// <summary>Where a record came from, for error messages.</summary>
    public static string Where(string path, long number) =>
        Path.GetExtension(path).Equals(".parquet", StringComparison.OrdinalIgnoreCase) ? $"{path}: row {number}" : $"{path}: line {number}";

    private static IEnumerable<(long, JsonElement)> ReadJsonl(string path)
    {
        long lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement root;
            try
            {
                using var doc = JsonDocument.Parse(line);
                root = doc.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{path}: line {lineNumber}: invalid JSON ({FirstSentence(ex.Message)})", ex);
            }
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: line {lineNumber}: expected a JSON object but found {root.ValueKind}");
            yield return (lineNumber, root);
        }
    }

    private static IEnumerable<(long, JsonElement)> ReadParquet(string path)
    {
        IEnumerable<IDictionary<string, object?>> rows;
        try
        {
            using var stream = File.OpenRead(path);
            var result = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult();
            rows = result.Data.Select(r => (IDictionary<string, object?>)r!).ToList();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({ex.Message})", ex);
        }
        long row = 0;
        foreach (var r in rows)
        {
            row++;
            yield return (row, JsonSerializer.SerializeToElement(ToPlain(r)));
        }
    }

    /// <summary>Parquet values as JSON-serialisable plain values (strings, numbers, lists, dictionaries).</summary>
    private static object? ToPlain(object? value) => value switch
    {
        null => null,
        string s => s,
        ReadOnlyMemory<char> m => m.ToString(),
        IDictionary<string, object?> d => d.ToDictionary(kv => kv.Key, kv => ToPlain(kv.Value)),
        System.Collections.IDictionary d => d.Keys.Cast<object>().ToDictionary(k => k.ToString()!, k => ToPlain(d[k])),
        System.Collections.IEnumerable e => e.Cast<object?>().Select(ToPlain).ToList(),
        _ => value,
    };

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0) cut = message.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).Trim();
    }

    /// <summary>A field as text: strings as they are, numbers in their JSON form, null/missing → null.</summary>
    public static string? Text(JsonElement record, string field)
    {
        if (!record.TryGetProperty(field, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => v.GetRawText(),
        };
    }
}
