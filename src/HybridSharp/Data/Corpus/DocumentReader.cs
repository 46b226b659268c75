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
                ? ReadWholeTextAsync(full, options.ReplaceInvalidUtf8, cancellationToken)
                : ReadBlankLineTextAsync(full, options.ReplaceInvalidUtf8, cancellationToken),
            DocumentFormat.Jsonl => TabularRecords.ReadTextColumnAsync(full, options.JsonlField, cancellationToken, options.ReplaceInvalidUtf8, options.CoerceText),
            _ => TabularRecords.ReadTextColumnAsync(full, options.ParquetColumn, cancellationToken, coerceText: options.CoerceText),
        };
    }

    private static StreamReader OpenText(string path, bool replaceInvalidUtf8) =>
        new(path, replaceInvalidUtf8 ? Utf8Text.Replacing : Utf8Text.Strict, detectEncodingFromByteOrderMarks: true,
            new FileStreamOptions { Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 1 << 16, Options = FileOptions.SequentialScan });

    private const string ReplaceHint = "; pass `DocumentReaderOptions.ReplaceInvalidUtf8` to replace such bytes";

    private static async IAsyncEnumerable<string> ReadWholeTextAsync(string path, bool replaceInvalidUtf8, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = OpenText(path, replaceInvalidUtf8);
        string text;
        try { text = await reader.ReadToEndAsync(ct).ConfigureAwait(false); }
        catch (DecoderFallbackException) { throw Utf8Text.InvalidError(path, ReplaceHint); }
        if (text.Length > 0) yield return text;
    }

    private static async IAsyncEnumerable<string> ReadBlankLineTextAsync(string path, bool replaceInvalidUtf8, [EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = OpenText(path, replaceInvalidUtf8);
        var doc = new StringBuilder();
        while (true)
        {
            string? line;
            try { line = await reader.ReadLineAsync(ct).ConfigureAwait(false); }
            catch (DecoderFallbackException) { throw Utf8Text.InvalidError(path, ReplaceHint); }
            if (line is null) break;
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
