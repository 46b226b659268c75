using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridSharp.Eval.Mqar;

/// <summary>Accuracy on one test slice (sequence length, number of key–value pairs).</summary>
public sealed record MqarSliceAccuracy
{
    [JsonPropertyName("seq_len")] public int SeqLen { get; init; }
    [JsonPropertyName("num_kv_pairs")] public int NumKvPairs { get; init; }
    [JsonPropertyName("accuracy")] public double Accuracy { get; init; }
    [JsonPropertyName("examples")] public int Examples { get; init; }
}

/// <summary>Test accuracy after one epoch of a cell's training (its learning curve).</summary>
public sealed record MqarCurvePoint
{
    [JsonPropertyName("epoch")] public int Epoch { get; init; }
    [JsonPropertyName("step")] public int Step { get; init; }
    [JsonPropertyName("accuracy")] public double Accuracy { get; init; }
}

/// <summary>One finished cell: one line of <c>results.jsonl</c>, with the machine and versions.</summary>
public sealed record MqarCellResult
{
    [JsonPropertyName("key")] public string Key { get; init; } = "";
    [JsonPropertyName("mixer")] public string Mixer { get; init; } = "";
    [JsonPropertyName("d_model")] public int DModel { get; init; }
    [JsonPropertyName("mlp")] public bool Mlp { get; init; }
    [JsonPropertyName("seq_len")] public int SeqLen { get; init; }
    [JsonPropertyName("num_kv_pairs")] public int NumKvPairs { get; init; }
    [JsonPropertyName("lr")] public double LearningRate { get; init; }
    [JsonPropertyName("protocol")] public string Protocol { get; init; } = "";
    [JsonPropertyName("budget")] public double Budget { get; init; }
    [JsonPropertyName("seed")] public long Seed { get; init; }
    [JsonPropertyName("train_seed")] public ulong TrainSeed { get; init; }
    [JsonPropertyName("test_seed")] public ulong TestSeed { get; init; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("train_examples")] public int TrainExamples { get; init; }
    [JsonPropertyName("test_examples")] public int TestExamples { get; init; }
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; }
    [JsonPropertyName("max_epochs")] public int MaxEpochs { get; init; }
    [JsonPropertyName("epochs")] public int EpochsRun { get; init; }
    [JsonPropertyName("steps")] public int Steps { get; init; }
    [JsonPropertyName("early_stopped")] public bool EarlyStopped { get; init; }
    [JsonPropertyName("diverged")] public bool Diverged { get; init; }
    /// <summary>valid/accuracy: mean over all test examples of the per-example share of correctly recalled values.</summary>
    [JsonPropertyName("accuracy")] public double Accuracy { get; init; }
    [JsonPropertyName("best_epoch_accuracy")] public double BestEpochAccuracy { get; init; }
    [JsonPropertyName("slices")] public List<MqarSliceAccuracy> Slices { get; init; } = [];
    [JsonPropertyName("train_loss")] public double TrainLoss { get; init; }
    [JsonPropertyName("params")] public long Parameters { get; init; }
    [JsonPropertyName("non_embedding_params")] public long NonEmbeddingParameters { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("train_tokens_per_s")] public double TrainTokensPerSecond { get; init; }
    [JsonPropertyName("machine")] public string Machine { get; init; } = "";
    [JsonPropertyName("time")] public DateTimeOffset Time { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Test accuracy after every epoch (empty in results written before curves were recorded).</summary>
    [JsonPropertyName("curve")] public List<MqarCurvePoint> Curve { get; init; } = [];

    [JsonIgnore] public string ModelLabel => Mlp ? Mixer + "+mlp" : Mixer;

    /// <summary>The training steps after which test accuracy first reached <paramref name="threshold"/>; null if it never did.</summary>
    public int? StepsTo(double threshold) => Curve.FirstOrDefault(p => p.Accuracy >= threshold)?.Step;
}

/// <summary>
/// The per-cell results of an MQAR results folder (<c>results.jsonl</c>, one JSON line per finished cell, appended as
/// soon as a cell finishes). A rerun skips every cell whose key is already present; a torn last line (crash) is ignored.
/// </summary>
public sealed class MqarResultStore
{
    public const string FileName = "results.jsonl";

    private static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly Dictionary<string, MqarCellResult> _byKey = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public string Directory { get; }
    public string Path => System.IO.Path.Combine(Directory, FileName);

    public MqarResultStore(string directory)
    {
        Directory = directory;
        if (!File.Exists(Path)) return;
        foreach (var line in File.ReadLines(Path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            MqarCellResult? r;
            try { r = JsonSerializer.Deserialize<MqarCellResult>(line, Json); }
            catch (JsonException) { continue; }
            if (r is null || r.Key.Length == 0) continue;
            if (!_byKey.ContainsKey(r.Key)) _order.Add(r.Key);
            _byKey[r.Key] = r;
        }
    }

    /// <summary>All results, in first-finished order (a later line for the same key replaces the earlier one).</summary>
    public IReadOnlyList<MqarCellResult> All => _order.Select(k => _byKey[k]).ToList();

    public int Count => _byKey.Count;

    /// <summary>The key under which a cell's result is stored.</summary>
    public static string KeyOf(MqarCell cell, MqarProtocol protocol) => cell.Tag + "|" + protocol.Tag;

    public bool TryGet(string key, out MqarCellResult result) => _byKey.TryGetValue(key, out result!);

    public bool Contains(MqarCell cell, MqarProtocol protocol) => _byKey.ContainsKey(KeyOf(cell, protocol));

    private static bool EndsWithoutNewline(string path)
    {
        if (!File.Exists(path)) return false;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (fs.Length == 0) return false;
        fs.Seek(-1, SeekOrigin.End);
        return fs.ReadByte() != '\n';
    }

    /// <summary>Appends <paramref name="result"/> as one line (one write call) and remembers it.</summary>
    /// <summary>
    /// Adds the results of other result folders (e.g. one per machine of a sharded sweep) that this store lacks; a key
    /// present in several folders keeps the first. Returns how many results were added.
    /// </summary>
    public int MergeFrom(IEnumerable<string> directories)
    {
        int added = 0;
        foreach (var dir in directories)
        {
            var other = new MqarResultStore(dir);
            if (!File.Exists(other.Path)) throw new FileNotFoundException($"no {FileName} in {dir}", other.Path);
            foreach (var r in other.All)
            {
                if (_byKey.ContainsKey(r.Key)) continue;
                Append(r);
                added++;
            }
        }
        return added;
    }

    public void Append(MqarCellResult result)
    {
        if (result.Key.Length == 0) throw new ArgumentException("result has no key");
        System.IO.Directory.CreateDirectory(Directory);
        var line = JsonSerializer.Serialize(result, Json) + "\n";
        if (EndsWithoutNewline(Path)) line = "\n" + line; // after a torn line, start a fresh one
        File.AppendAllText(Path, line);
        if (!_byKey.ContainsKey(result.Key)) _order.Add(result.Key);
        _byKey[result.Key] = result;
    }
}
