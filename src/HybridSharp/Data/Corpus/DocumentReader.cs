using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace HybridSharp.Data.Corpus;

/// <summary>
/// Streams documents (one string each) out of <c>.txt</c>, <c>.jsonl</c> and <c>.parquet</c> files without loading a whole
/// file: text and JSONL are read line by line, Parquet row group by row group. Empty documents are skipped.
/// </summary>
public static class DocumentReader
{
    /// <summary>Extensions recognised by <see cref="DetectFormat"/>.</summary>
    public static IReadOnlyList<string> SupportedExtensions { get; } = [".txt", ".jsonl", ".parquet"];

    /// <summary>Format of <paramref name="path"/> by extension (case-insensitive); unknown extensions throw <see cref="ArgumentException"/>.</summary>
    public static DocumentFormat DetectFormat(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return System.IO.Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".txt" => DocumentFormat.Text,
            ".jsonl" => DocumentFormat.Jsonl,
            ".parquet" => DocumentFormat.Parquet,
            var ext => throw new ArgumentException(
                $"Cannot read '{path}': unknown corpus file extension '{ext}' (supported: {string.Join(", ", SupportedExtensions)}).", nameof(path)),
        };
    }

    /// <summary>Reads the documents of one file, in file order.</summary>
    public static IAsyncEnumerable<string> ReadFileAsync(string path, DocumentReaderOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DocumentReaderOptions();
        var format = DetectFormat(path);
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"Corpus file '{full}' does not exist.", full);
        return format switch
        {
            DocumentFormat.Text => options.TextMode == TextDocumentMode.WholeFile
                ? ReadWholeTextAsync(full, cancellationToken)
                : ReadBlankLineTextAsync(full, cancellationToken),
            DocumentFormat.Jsonl => ReadJsonlAsync(full, options.JsonlField, cancellationToken),
            _ => ReadParquetAsync(full, options.ParquetColumn, cancellationToken),
        };
    }

    private static StreamReader OpenText(string path) =>
        new(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false), detectEncodingFromByteOrderMarks: true,
            new FileStreamOptions { Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 1 << 16, Options = FileOptions.SequentialScan });

    private static async IAsyncEnumerable<string> ReadWholeTextAsync(string path, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = OpenText(path);
        var text = await reader.ReadToEndAsync(ct).ConfigureAwait(false);
        if (text.Length > 0) yield return text;
    }

    private static async IAsyncEnumerable<string> ReadBlankLineTextAsync(string path, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = OpenText(path);
        var doc = new StringBuilder();
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                if (doc.Length > 0)
                {
                    yield return doc.ToString();
                    doc.Clear();
                }
                continue;
            }
            if (doc.Length > 0) doc.Append('\n');
            doc.Append(line);
        }
        if (doc.Length > 0) yield return doc.ToString();
    }

    private static async IAsyncEnumerable<string> ReadJsonlAsync(string path, string field, [EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(field);
        using var reader = OpenText(path);
        long lineNumber = 0;
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text = ParseJsonlLine(line, field, path, lineNumber);
            if (!string.IsNullOrEmpty(text)) yield return text;
        }
    }

    private static string? ParseJsonlLine(string line, string field, string path, long lineNumber)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            // JsonException messages end with "Path: … | LineNumber: 0 | BytePositionInLine: n."; report our own line instead.
            var reason = ex.Message;
            int cut = reason.IndexOf(" Path: ", StringComparison.Ordinal);
            if (cut < 0) cut = reason.IndexOf(" LineNumber: ", StringComparison.Ordinal);
            if (cut > 0) reason = reason[..cut];
            throw new InvalidDataException($"{path}: line {lineNumber}, byte {ex.BytePositionInLine + 1}: invalid JSON ({reason.Trim()})", ex);
        }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: line {lineNumber}: expected a JSON object but found {root.ValueKind}");
            if (!root.TryGetProperty(field, out var value))
                throw new InvalidDataException($"{path}: line {lineNumber}: field \"{field}\" is missing");
            return value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Null => null,
                _ => throw new InvalidDataException($"{path}: line {lineNumber}: field \"{field}\" is {value.ValueKind}, expected a string"),
            };
        }
    }

    private static async IAsyncEnumerable<string> ReadParquetAsync(string path, string column, [EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(column);
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(path, parquetOptions: null, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({ex.Message})", ex);
        }
        await using (reader.ConfigureAwait(false))
        {
            var field = FindStringColumn(reader.Schema, column, path);
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                var rowGroup = reader.OpenRowGroupReader(g);
                long rows = rowGroup.RowCount;
                if (rows == 0) continue;
                if (rows > Array.MaxLength)
                    throw new InvalidDataException($"{path}: row group {g} has {rows} rows, more than one read can hold");
                var values = new string?[rows];
                await rowGroup.ReadAsync(field, values.AsMemory(), null, ct).ConfigureAwait(false);
                foreach (var text in values)
                    if (!string.IsNullOrEmpty(text)) yield return text;
            }
        }
    }

    private static DataField FindStringColumn(ParquetSchema schema, string column, string path)
    {
        var fields = schema.GetDataFields();
        var field = fields.FirstOrDefault(f => string.Equals(f.Name, column, StringComparison.Ordinal) && f.Path.Length == 1)
            ?? throw new InvalidDataException(
                $"{path}: Parquet column \"{column}\" not found (top-level columns: {string.Join(", ", fields.Select(f => f.Name))})");
        // Parquet.Net 6 reports UTF-8 string columns as ReadOnlyMemory<char>; both read through the string overload.
        bool isString = field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>);
        if (!isString || field.IsArray)
            throw new InvalidDataException($"{path}: Parquet column \"{column}\" holds {(field.IsArray ? "lists of " : "")}{field.ClrType.Name}, expected strings");
        return field;
    }
}
