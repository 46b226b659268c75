using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Serialization;

namespace HybridSharp.Data;

/// <summary>
/// The one reader of tabular files: records (one JSON object each) from a <c>.jsonl</c> file or a <c>.parquet</c> file
/// (rows, nested lists and structs included, become JSON objects) for chat data and problem sets, and one streamed
/// text field for corpora (<see cref="ReadTextColumnAsync"/>).
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
        using var lines = File.ReadLines(path, Utf8Text.Strict).GetEnumerator();
        while (true)
        {
            string line;
            try
            {
                if (!lines.MoveNext()) break;
                line = lines.Current;
            }
            catch (DecoderFallbackException) { throw Utf8Text.InvalidError(path); }
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = ParseLine(line, path, lineNumber);
            yield return (lineNumber, doc.RootElement.Clone());
        }
    }

    /// <summary>One JSONL line as a JSON object; errors name the file, line and byte.</summary>
    private static JsonDocument ParseLine(string line, string path, long lineNumber)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: line {lineNumber}, byte {ex.BytePositionInLine + 1}: invalid JSON ({FirstSentence(ex.Message)})", ex);
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = doc.RootElement.ValueKind;
            doc.Dispose();
            throw new InvalidDataException($"{path}: line {lineNumber}: expected a JSON object but found {kind}");
        }
        return doc;
    }

    /// <summary>
    /// Streams one text field of every record of a large <c>.jsonl</c> or <c>.parquet</c> file (a corpus) without loading
    /// the file: JSONL line by line, Parquet row group by row group. The field must hold a string in every record (a
    /// missing field, null or another type is an error naming the line or row); empty strings are skipped.
    /// </summary>
    /// <param name="replaceInvalidUtf8">Replace invalid UTF-8 in a JSONL file with U+FFFD instead of failing.</param>
    /// <param name="coerceText">Read numbers and true/false (a numeric Parquet column) as their text instead of failing.</param>
    public static IAsyncEnumerable<string> ReadTextColumnAsync(string path, string field, CancellationToken cancel = default,
        bool replaceInvalidUtf8 = false, bool coerceText = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(field);
        if (!File.Exists(path)) throw new FileNotFoundException($"data file not found: {path}", path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".jsonl" or ".json" => ReadJsonlColumnAsync(path, field, replaceInvalidUtf8, coerceText, cancel),
            ".parquet" => ReadParquetColumnAsync(path, field, coerceText, cancel),
            var ext => throw new ArgumentException($"cannot read '{path}': unknown extension '{ext}' (supported: .jsonl, .parquet)"),
        };
    }

    private const string CoerceHint = " (`DocumentReaderOptions.CoerceText` reads numbers and true/false as text)";

    private static async IAsyncEnumerable<string> ReadJsonlColumnAsync(string path, string field, bool replaceInvalidUtf8, bool coerceText,
        [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(path, replaceInvalidUtf8 ? Utf8Text.Replacing : Utf8Text.Strict, detectEncodingFromByteOrderMarks: true,
            new FileStreamOptions { Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 1 << 16, Options = FileOptions.SequentialScan });
        long lineNumber = 0;
        while (true)
        {
            string? line;
            try { line = await reader.ReadLineAsync(ct).ConfigureAwait(false); }
            catch (DecoderFallbackException) { throw Utf8Text.InvalidError(path, "; pass `DocumentReaderOptions.ReplaceInvalidUtf8` to replace such bytes"); }
            if (line is null) break;
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            using (var doc = ParseLine(line, path, lineNumber))
            {
                if (!doc.RootElement.TryGetProperty(field, out var value))
                    throw new InvalidDataException($"{path}: line {lineNumber}: field \"{field}\" is missing");
                bool scalar = value.ValueKind is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False;
                text = value.ValueKind == JsonValueKind.String ? value.GetString()
                    : scalar && coerceText ? value.GetRawText()
                    : throw new InvalidDataException($"{path}: line {lineNumber}: field \"{field}\" is {KindName(value.ValueKind)}, expected a string"
                        + (scalar ? CoerceHint : ""));
            }
            if (!string.IsNullOrEmpty(text)) yield return text;
        }
    }

    private static async IAsyncEnumerable<string> ReadParquetColumnAsync(string path, string column, bool coerceText,
        [EnumeratorCancellation] CancellationToken ct)
    {
        ParquetReader reader;
        try { reader = await ParquetReader.CreateAsync(path, parquetOptions: null, ct).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({ex.Message})", ex);
        }
        await using (reader.ConfigureAwait(false))
        {
            var fields = reader.Schema.GetDataFields();
            var field = fields.FirstOrDefault(f => string.Equals(f.Name, column, StringComparison.Ordinal) && f.Path.Length == 1)
                ?? throw new InvalidDataException(
                    $"{path}: Parquet column \"{column}\" not found (top-level columns: {string.Join(", ", fields.Select(f => f.Name))})");
            // Parquet.Net reports UTF-8 string columns as ReadOnlyMemory<char>; both read through the string overload.
            bool isString = field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>);
            bool scalar = !isString && !field.IsArray && (field.ClrType.IsPrimitive || field.ClrType == typeof(decimal));
            if (field.IsArray || (!isString && !(scalar && coerceText)))
                throw new InvalidDataException($"{path}: Parquet column \"{column}\" holds {(field.IsArray ? "lists of " : "")}{field.ClrType.Name}, expected strings"
                    + (scalar ? CoerceHint : ""));
            long row = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var rowGroup = reader.OpenRowGroupReader(g);
                long rows = rowGroup.RowCount;
                if (rows == 0) continue;
                if (rows > Array.MaxLength)
                    throw new InvalidDataException($"{path}: row group {g} has {rows} rows, more than one read can hold");
                string?[] values;
                if (isString)
                {
                    values = new string?[rows];
                    await rowGroup.ReadAsync(field, values.AsMemory(), null, ct).ConfigureAwait(false);
                }
                else values = await ScalarsAsTextAsync(rowGroup, field, rows, ct).ConfigureAwait(false);
                foreach (var text in values)
                {
                    row++;
                    if (text is null) throw new InvalidDataException($"{path}: row {row}: column \"{column}\" is null, expected a string");
                    if (text.Length > 0) yield return text;
                }
            }
        }
    }

    /// <summary>A numeric or boolean Parquet column as the text JSON would give its values (null stays null).</summary>
    private static Task<string?[]> ScalarsAsTextAsync(ParquetRowGroupReader rowGroup, Parquet.Schema.DataField field, long rows, CancellationToken ct) =>
        (Task<string?[]>)typeof(TabularRecords).GetMethod(nameof(ReadScalarsAsync), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(field.ClrType).Invoke(null, [rowGroup, field, rows, ct])!;

    private static async Task<string?[]> ReadScalarsAsync<T>(ParquetRowGroupReader rowGroup, Parquet.Schema.DataField field, long rows, CancellationToken ct)
        where T : struct
    {
        if (field.IsNullable)
        {
            var values = new T?[rows];
            await rowGroup.ReadAsync(field, values.AsMemory(), null, ct).ConfigureAwait(false);
            return [.. values.Select(v => v is { } x ? JsonSerializer.SerializeToElement(x).GetRawText() : null)];
        }
        var plain = new T[rows];
        await rowGroup.ReadAsync(field, plain.AsMemory(), null, ct).ConfigureAwait(false);
        return [.. plain.Select(v => (string?)JsonSerializer.SerializeToElement(v).GetRawText())];
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

    /// <summary>
    /// A text field (a problem, a message): the string, or null when the field is missing or null. A number or
    /// true/false is an error naming <paramref name="where"/> and the field unless <see cref="RecordReadOptions.CoerceText"/>
    /// is set; an object or a list is always an error.
    /// </summary>
    public static string? Text(JsonElement record, string field, string where, RecordReadOptions? read = null)
    {
        if (!record.TryGetProperty(field, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False when (read ?? RecordReadOptions.Strict).CoerceText => v.GetRawText(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => throw new InvalidDataException(
                $"{where}: field \"{field}\" is {KindName(v.ValueKind)}, expected text (`RecordReadOptions.CoerceText` reads numbers and true/false as text)"),
            _ => throw new InvalidDataException($"{where}: field \"{field}\" is {KindName(v.ValueKind)}, expected text"),
        };
    }

    /// <summary>
    /// A value field (an answer, an id, a difficulty label): a string as it is, a number or true/false in its JSON
    /// form, null when missing or null; an object or a list is an error naming <paramref name="where"/> and the field.
    /// </summary>
    public static string? Value(JsonElement record, string field, string where)
    {
        if (!record.TryGetProperty(field, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => throw new InvalidDataException($"{where}: field \"{field}\" is {KindName(v.ValueKind)}, expected a string or a number"),
        };
    }

    /// <summary>A JSON kind as a message names it.</summary>
    public static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "true/false",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        _ => "null",
    };
}
