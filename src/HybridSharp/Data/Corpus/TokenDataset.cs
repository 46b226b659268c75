namespace HybridSharp.Data.Corpus;

/// <summary>
/// An opened dataset directory written by <see cref="CorpusBuilder"/>: the manifest plus memory-mapped train and
/// validation shards, checked against each other on open.
/// </summary>
public sealed class TokenDataset : IDisposable
{
    private TokenDataset(string directory, DatasetManifest manifest, TokenShard train, TokenShard validation)
    {
        Directory = directory;
        Manifest = manifest;
        Train = train;
        Validation = validation;
    }

    /// <summary>Full path of the dataset directory.</summary>
    public string Directory { get; }

    /// <summary>The dataset's manifest.</summary>
    public DatasetManifest Manifest { get; }

    /// <summary>Training tokens.</summary>
    public TokenShard Train { get; }

    /// <summary>Validation tokens.</summary>
    public TokenShard Validation { get; }

    /// <summary>Opens <paramref name="directory"/>; throws <see cref="FileNotFoundException"/> or <see cref="InvalidDataException"/> on missing or inconsistent files.</summary>
    public static TokenDataset Open(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var dir = Path.GetFullPath(directory);
        var manifest = DatasetManifest.Load(dir);
        TokenShard? train = null, val = null;
        try
        {
            train = TokenShard.Open(Path.Combine(dir, DatasetManifest.TrainFileName));
            val = TokenShard.Open(Path.Combine(dir, DatasetManifest.ValidationFileName));
            Check(train, manifest.TrainTokens, manifest);
            Check(val, manifest.ValidationTokens, manifest);
            return new TokenDataset(dir, manifest, train, val);
        }
        catch
        {
            train?.Dispose();
            val?.Dispose();
            throw;
        }
    }

    /// <summary>A shuffled, resumable sampler over the training shard.</summary>
    public PackedBatchSampler CreateTrainSampler(int seqLen, int batchSize, long seed) => new(Train, seqLen, batchSize, seed);

    /// <summary>Sequential batches over the validation shard (see <see cref="PackedBatchSampler.Sequential"/>).</summary>
    public IEnumerable<TokenBatch> EvalBatches(int seqLen, int batchSize, int maxBatches = int.MaxValue) =>
        PackedBatchSampler.Sequential(Validation, seqLen, batchSize, maxBatches);

    /// <summary>Releases both shards.</summary>
    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
    }

    private static void Check(TokenShard shard, long expectedTokens, DatasetManifest manifest)
    {
        if (shard.Count != expectedTokens)
            throw new InvalidDataException($"Token shard '{shard.Path}' holds {shard.Count} tokens but {DatasetManifest.FileName} says {expectedTokens}.");
        if (shard.TokenWidth != manifest.TokenWidth)
            throw new InvalidDataException($"Token shard '{shard.Path}' uses {shard.TokenWidth}-byte tokens but {DatasetManifest.FileName} says {manifest.TokenWidth}.");
        if (shard.VocabSize != 0 && shard.VocabSize != manifest.VocabSize)
            throw new InvalidDataException($"Token shard '{shard.Path}' was written for vocabulary size {shard.VocabSize} but {DatasetManifest.FileName} says {manifest.VocabSize}.");
    }
}
