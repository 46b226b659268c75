using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace HybridSharp.Distill;

/// <summary>Reads problems from JSONL or Parquet files with a <see cref="FieldMap"/>.</summary>
public static class ProblemReader
{
    public static async Task<List<ProblemRecord>> ReadAsync(IEnumerable<string> paths, FieldMap map, CancellationToken ct = default)
    {
        var list = new List<ProblemRecord>();
        foreach (var path in paths)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"input file '{path}' does not exist", path);
            var ext = Path.GetExtension(path).ToLowerInvariant();
            IAsyncEnumerable<Dictionary<string, string?>> rows = ext switch
            {
                ".jsonl" or ".json" => ReadJsonl(path, ct),
                ".parquet" => ReadParquet(path, map, ct),
                _ => throw new ArgumentException($"cannot read '{path}': expected a .jsonl or .parquet file"),
            };
            long line = 0;
            await foreach (var row in rows.ConfigureAwait(false))
            {
                line++;
                var problem = Get(row, map.Problem);
                if (problem is null)
                    throw new InvalidDataException($"{path}: row {line}: field \"{map.Problem}\" is missing or empty (set --problem-field)");
                var id = map.Id is null ? null : Get(row, map.Id);
                id ??= PromptSet.Sha256Hex(problem)[..16];
                list.Add(new ProblemRecord(id, list.Count, problem, Get(row, map.Reference) ?? "",
                    map.LongCot is null ? null : Get(row, map.LongCot), (map.Domain is null ? null : Get(row, map.Domain)) ?? map.DefaultDomain));
            }
        }
        var dup = list.GroupBy(p => p.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new InvalidDataException($"problem id '{dup.Key}' occurs {dup.Count()} times in the input; ids must be unique (map another --id-field or drop it to hash the problem text)");
        return list;
    }

    private static string? Get(Dictionary<string, string?> row, string field) =>
        row.TryGetValue(field, out var v) && !string.IsNullOrWhiteSpace(v) ? v : null;

    private static async IAsyncEnumerable<Dictionary<string, string?>> ReadJsonl(string path, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(path, new UTF8Encoding(false));
        long lineNumber = 0;
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            Dictionary<string, string?> row = new(StringComparer.Ordinal);
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{path}: line {lineNumber}: expected a JSON object");
                foreach (var p in doc.RootElement.EnumerateObject())
                    row[p.Name] = p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString(),
                        JsonValueKind.Null => null,
                        _ => p.Value.GetRawText(),
                    };
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{path}: line {lineNumber}: invalid JSON ({ex.Message.Split(" Path:")[0].Trim()})", ex);
            }
            yield return row;
        }
    }

    private static async IAsyncEnumerable<Dictionary<string, string?>> ReadParquet(string path, FieldMap map, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        ParquetReader reader;
        try { reader = await ParquetReader.CreateAsync(path, parquetOptions: null, ct).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({ex.Message})", ex);
        }
        await using (reader.ConfigureAwait(false))
        {
            var wanted = new[] { map.Problem, map.Reference, map.Id, map.LongCot, map.Domain }.Where(n => n is not null).Distinct().ToList();
            var fields = reader.Schema.GetDataFields();
            if (!fields.Any(f => f.Name == map.Problem && f.Path.Length == 1))
                throw new InvalidDataException($"{path}: Parquet column \"{map.Problem}\" not found (columns: {string.Join(", ", fields.Select(f => f.Name))})");
            var present = fields.Where(f => f.Path.Length == 1 && wanted.Contains(f.Name) && !f.IsArray).ToList();
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var rg = reader.OpenRowGroupReader(g);
                int n = checked((int)rg.RowCount);
                var columns = new Dictionary<string, string?[]>();
                foreach (var f in present) columns[f.Name] = await ReadColumnAsString(rg, f, n, ct).ConfigureAwait(false);
                for (int i = 0; i < n; i++)
                {
                    var row = new Dictionary<string, string?>(StringComparer.Ordinal);
                    foreach (var (name, values) in columns) row[name] = values[i];
                    yield return row;
                }
            }
        }
    }

    private static async Task<string?[]> ReadColumnAsString(ParquetRowGroupReader rg, DataField field, int n, CancellationToken ct)
    {
        var result = new string?[n];
        if (field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>))
        {
            await rg.ReadAsync(field, result.AsMemory(), null, ct).ConfigureAwait(false);
            return result;
        }
        if (field.ClrType == typeof(long))
        {
            var longs = new long?[n];
            await rg.ReadAsync(field, longs.AsMemory(), null, ct).ConfigureAwait(false);
            for (int i = 0; i < n; i++) result[i] = longs[i]?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (field.ClrType == typeof(int))
        {
            var ints = new int?[n];
            await rg.ReadAsync(field, ints.AsMemory(), null, ct).ConfigureAwait(false);
            for (int i = 0; i < n; i++) result[i] = ints[i]?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else throw new InvalidDataException($"Parquet column \"{field.Name}\" holds {field.ClrType.Name}; expected strings or integers");
        return result;
    }
}
