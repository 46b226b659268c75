using System.Runtime.CompilerServices;
using System.Text;

namespace HybridSharp.Data.Corpus;

/// <summary>
/// Streams documents (one string each) out of <c>.txt</c>, <c>.jsonl</c> and <c>.parquet</c> files without loading a whole
/// file: text line by line here, JSONL and Parquet through <see cref="TabularRecords.ReadTextColumnAsync"/>. Empty
/// documents are skipped.
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
            DocumentFormat.Jsonl => TabularRecords.ReadTextColumnAsync(full, options.JsonlField, cancellationToken),
            _ => TabularRecords.ReadTextColumnAsync(full, options.ParquetColumn, cancellationToken),
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
}
