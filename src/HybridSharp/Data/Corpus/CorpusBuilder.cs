namespace HybridSharp.Data.Corpus;

/// <summary>
/// Tokenizes documents from files (<c>.txt</c>, <c>.jsonl</c>, <c>.parquet</c>) and in-memory sequences into a dataset
/// directory: <c>train.bin</c>, <c>val.bin</c> (see <see cref="TokenShardFormat"/>) and <c>dataset.json</c>
/// (<see cref="DatasetManifest"/>). Every document's tokens are followed by the tokenizer's EOS id. Documents stream one at
/// a time; each goes to validation when a hash of (seed, document index) falls below the validation fraction.
/// </summary>
public sealed class CorpusBuilder
{
    private readonly ITokenizer _tokenizer;
    private readonly CorpusBuilderOptions _options;
    private readonly List<Source> _sources = [];

    /// <summary>A named document source: either a file read asynchronously or an in-memory sequence.</summary>
    private sealed record Source(string Name, Func<CancellationToken, IAsyncEnumerable<string>>? OpenFile, IEnumerable<string>? Documents);

    /// <summary>Creates a builder for <paramref name="tokenizer"/>.</summary>
    public CorpusBuilder(ITokenizer tokenizer, CorpusBuilderOptions? options = null)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _options = options ?? new CorpusBuilderOptions();
        if (!(_options.ValidationFraction >= 0 && _options.ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(options), $"validation fraction must be in [0, 1), got {_options.ValidationFraction}");
        if ((uint)_tokenizer.EosId >= (uint)_tokenizer.VocabSize)
            throw new ArgumentException($"tokenizer EOS id {_tokenizer.EosId} is outside its vocabulary (0..{_tokenizer.VocabSize - 1})", nameof(tokenizer));
    }

    /// <summary>Sources added so far, in order.</summary>
    public IReadOnlyList<string> Sources => _sources.ConvertAll(s => s.Name);

    /// <summary>Adds a source file; its format comes from the extension. Throws <see cref="FileNotFoundException"/> or <see cref="ArgumentException"/>.</summary>
    public CorpusBuilder AddFile(string path)
    {
        DocumentReader.DetectFormat(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"Corpus file '{full}' does not exist.", full);
        var reader = _options.Documents;
        _sources.Add(new Source(full, ct => DocumentReader.ReadFileAsync(full, reader, ct), null));
        return this;
    }

    /// <summary>Adds several source files.</summary>
    public CorpusBuilder AddFiles(IEnumerable<string> paths)
    {
        foreach (var path in paths) AddFile(path);
        return this;
    }

    /// <summary>Adds in-memory documents (enumerated lazily during the build); empty or null documents are skipped.</summary>
    public CorpusBuilder AddDocuments(IEnumerable<string> documents, string sourceName = "(in-memory)")
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceName);
        _sources.Add(new Source(sourceName, null, documents));
        return this;
    }

    /// <summary>Builds the dataset into <paramref name="outputDirectory"/>, blocking until done.</summary>
    public DatasetManifest Build(string outputDirectory) => BuildAsync(outputDirectory).GetAwaiter().GetResult();

    /// <summary>
    /// Builds the dataset into <paramref name="outputDirectory"/>. Shards are written atomically and the manifest last,
    /// so a failed build never leaves a manifest that describes partial shards.
    /// </summary>
    public async Task<DatasetManifest> BuildAsync(string outputDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        if (_sources.Count == 0) throw new InvalidOperationException("No corpus sources were added.");
        var dir = Path.GetFullPath(outputDirectory);
        Directory.CreateDirectory(dir);

        int vocab = _tokenizer.VocabSize, eos = _tokenizer.EosId;
        using var train = new TokenShardWriter(Path.Combine(dir, DatasetManifest.TrainFileName), vocab);
        using var val = new TokenShardWriter(Path.Combine(dir, DatasetManifest.ValidationFileName), vocab);
        long trainDocs = 0, valDocs = 0, index = 0;

        // The most recent document is held back so that, once the stream ends, it can be moved to whichever split would
        // otherwise be empty. Only one document's tokens are ever buffered.
        int[]? pending = null;
        bool pendingIsVal = false;

        foreach (var source in _sources)
        {
            if (source.Documents is not null)
            {
                foreach (var text in source.Documents)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Accept(text);
                }
            }
            else
            {
                await foreach (var text in source.OpenFile!(cancellationToken).ConfigureAwait(false)) Accept(text);
            }
        }

        if (pending is null) throw new InvalidDataException($"The corpus sources contain no documents: {string.Join(", ", Sources)}.");
        if (index >= 2)
        {
            if (valDocs == 0) pendingIsVal = true;
            else if (trainDocs == 0) pendingIsVal = false;
        }
        Emit(pending, pendingIsVal);

        // A stale manifest must never describe the new shards, so it goes before they are renamed into place.
        File.Delete(Path.Combine(dir, DatasetManifest.FileName));
        train.Commit();
        val.Commit();
        var manifest = new DatasetManifest
        {
            Tokenizer = _options.TokenizerKind ?? KindOf(_tokenizer),
            VocabSize = vocab,
            TokenWidth = train.TokenWidth,
            EosId = eos,
            TrainTokens = train.Count,
            ValidationTokens = val.Count,
            TrainDocuments = trainDocs,
            ValidationDocuments = valDocs,
            Sources = Sources,
            ValidationFraction = _options.ValidationFraction,
            Seed = _options.Seed,
        };
        manifest.Save(dir);
        return manifest;

        void Accept(string? text)
        {
            if (string.IsNullOrEmpty(text)) return;
            if (pending is not null) Emit(pending, pendingIsVal);
            pending = _tokenizer.Encode(text);
            pendingIsVal = DeterministicRandom.UnitHash(_options.Seed, index) < _options.ValidationFraction;
            index++;
        }

        void Emit(int[] tokens, bool toVal)
        {
            var writer = toVal ? val : train;
            writer.Write(tokens);
            writer.Write(eos);
            if (toVal) valDocs++; else trainDocs++;
        }
    }

    /// <summary>Tokenizer kind name recorded when none is given: "byte" for <see cref="ByteTokenizer"/>, else the type name.</summary>
    public static string KindOf(ITokenizer tokenizer) => tokenizer switch
    {
        ByteTokenizer => "byte",
        _ => Tokenizers.TokenizerKinds.KindOf(tokenizer),
    };
}
