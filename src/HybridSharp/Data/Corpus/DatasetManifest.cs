using System.Text.Json;
using System.Text.Json.Serialization;
using HybridSharp.IO;

namespace HybridSharp.Data.Corpus;

/// <summary>
/// Describes a tokenized dataset directory (<c>dataset.json</c>): which tokenizer produced it, how the shards are encoded,
/// how many tokens and documents each split holds, the source files and the split parameters.
/// </summary>
public sealed record DatasetManifest
{
    /// <summary>Manifest file name inside a dataset directory.</summary>
    public const string FileName = "dataset.json";

    /// <summary>Training shard file name inside a dataset directory.</summary>
    public const string TrainFileName = "train.bin";

    /// <summary>Validation shard file name inside a dataset directory.</summary>
    public const string ValidationFileName = "val.bin";

    /// <summary>Version of this manifest layout.</summary>
    public const int CurrentFormatVersion = 1;

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Manifest layout version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Kind name of the tokenizer that produced the ids (e.g. "byte").</summary>
    public required string Tokenizer { get; init; }

    /// <summary>Vocabulary size of that tokenizer.</summary>
    public required int VocabSize { get; init; }

    /// <summary>Bytes per token in the shards (2 or 4).</summary>
    public required int TokenWidth { get; init; }

    /// <summary>Document separator id appended after every document.</summary>
    public required int EosId { get; init; }

    /// <summary>Tokens in <see cref="TrainFileName"/>.</summary>
    public required long TrainTokens { get; init; }

    /// <summary>Tokens in <see cref="ValidationFileName"/>.</summary>
    public required long ValidationTokens { get; init; }

    /// <summary>Documents in the training split.</summary>
    public required long TrainDocuments { get; init; }

    /// <summary>Documents in the validation split.</summary>
    public required long ValidationDocuments { get; init; }

    /// <summary>Source files (full paths) or in-memory source names, in ingestion order.</summary>
    public required IReadOnlyList<string> Sources { get; init; }

    /// <summary>Requested fraction of documents sent to validation.</summary>
    public required double ValidationFraction { get; init; }

    /// <summary>Seed of the per-document split.</summary>
    public required long Seed { get; init; }

    /// <summary>Serialises to indented camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses manifest JSON; <paramref name="origin"/> names the source in error messages.</summary>
    public static DatasetManifest FromJson(string json, string origin = FileName)
    {
        DatasetManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<DatasetManifest>(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Dataset manifest '{origin}' is invalid: {ex.Message}", ex);
        }
        if (manifest is null) throw new InvalidDataException($"Dataset manifest '{origin}' is empty.");
        if (manifest.FormatVersion != CurrentFormatVersion)
            throw new InvalidDataException($"Dataset manifest '{origin}' has unsupported format version {manifest.FormatVersion} (expected {CurrentFormatVersion}).");
        return manifest;
    }

    /// <summary>Writes the manifest atomically to <c>directory/dataset.json</c>.</summary>
    public void Save(string directory) => AtomicFile.WriteAllText(System.IO.Path.Combine(directory, FileName), ToJson());

    /// <summary>Reads <c>directory/dataset.json</c>.</summary>
    public static DatasetManifest Load(string directory)
    {
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, FileName));
        if (!File.Exists(path)) throw new FileNotFoundException($"Dataset manifest '{path}' does not exist.", path);
        return FromJson(File.ReadAllText(path), path);
    }
}
