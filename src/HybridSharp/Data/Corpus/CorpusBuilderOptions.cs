namespace HybridSharp.Data.Corpus;

/// <summary>Options for <see cref="CorpusBuilder"/>: the train/validation split and how source files are read.</summary>
public sealed record CorpusBuilderOptions
{
    /// <summary>Fraction of documents sent to validation, in [0, 1). At least one document goes to each split when there are two or more.</summary>
    public double ValidationFraction { get; init; } = 0.01;

    /// <summary>Seed of the deterministic per-document split.</summary>
    public long Seed { get; init; } = 1234;

    /// <summary>Tokenizer kind recorded in the manifest; null derives it from the tokenizer type ("byte" for <see cref="ByteTokenizer"/>).</summary>
    public string? TokenizerKind { get; init; }

    /// <summary>How documents are read from source files.</summary>
    public DocumentReaderOptions Documents { get; init; } = new();
}
