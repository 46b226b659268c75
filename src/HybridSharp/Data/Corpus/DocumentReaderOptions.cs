namespace HybridSharp.Data.Corpus;

/// <summary>Source file formats the corpus tools understand, detected from the file extension.</summary>
public enum DocumentFormat
{
    /// <summary><c>.txt</c>: UTF-8 plain text.</summary>
    Text,

    /// <summary><c>.jsonl</c>: one JSON object per line; the document is one string field.</summary>
    Jsonl,

    /// <summary><c>.parquet</c>: the document is one string column.</summary>
    Parquet,
}

/// <summary>How a plain-text file is cut into documents.</summary>
public enum TextDocumentMode
{
    /// <summary>Documents are separated by one or more blank (whitespace-only) lines; line breaks inside become <c>\n</c>.</summary>
    BlankLineSeparated,

    /// <summary>The whole file, verbatim, is one document.</summary>
    WholeFile,
}

/// <summary>Options for reading documents out of source files.</summary>
public sealed record DocumentReaderOptions
{
    /// <summary>How <c>.txt</c> files are split into documents.</summary>
    public TextDocumentMode TextMode { get; init; } = TextDocumentMode.BlankLineSeparated;

    /// <summary>Field of each JSONL object that holds the document text.</summary>
    public string JsonlField { get; init; } = "text";

    /// <summary>Parquet column that holds the document text.</summary>
    public string ParquetColumn { get; init; } = "text";

    /// <summary>
    /// Replace invalid UTF-8 in <c>.txt</c> and <c>.jsonl</c> files with U+FFFD; by default such a byte is an error
    /// naming its offset.
    /// </summary>
    public bool ReplaceInvalidUtf8 { get; init; }

    /// <summary>
    /// Read a number or true/false in the JSONL field (a numeric Parquet column) as its text; by default such a value is
    /// an error naming the line or column.
    /// </summary>
    public bool CoerceText { get; init; }
}
