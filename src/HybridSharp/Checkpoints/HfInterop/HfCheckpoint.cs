using System.Text.RegularExpressions;
using HybridSharp.Config;
using HybridSharp.IO.Safetensors;
using static TorchSharp.torch;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>
/// The weights of a Hugging Face model directory: <c>model.safetensors</c> or shards listed by
/// <c>model.safetensors.index.json</c>. Shapes are read from the headers first (no data), so the config can be derived
/// before any tensor is loaded.
/// </summary>
internal sealed class HfCheckpoint
{
    private static readonly Regex LayerIndex = new(@"^(?:model|backbone)\.layers\.(\d+)\.", RegexOptions.CultureInvariant);

    private HfCheckpoint(string directory, bool sharded, Dictionary<string, long[]> shapes)
    {
        Directory = directory;
        Sharded = sharded;
        Shapes = shapes;
    }

    public string Directory { get; }
    public bool Sharded { get; }

    /// <summary>Source tensor name → shape.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes { get; }

    public static HfCheckpoint Open(string directory)
    {
        var single = Path.Combine(directory, SafetensorsFile.SingleFileName);
        var index = Path.Combine(directory, SafetensorsFile.IndexFileName);
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        if (File.Exists(single))
        {
            foreach (var t in SafetensorsFile.ReadHeader(single).Tensors) shapes[t.Name] = [.. t.Shape];
            return new HfCheckpoint(directory, false, shapes);
        }
        if (File.Exists(index))
        {
            var map = SafetensorsFile.ReadShardIndex(index);
            foreach (var shard in map.Values.Distinct(StringComparer.Ordinal))
            {
                var path = Path.Combine(directory, shard);
                if (!File.Exists(path)) throw new FileNotFoundException($"shard '{shard}' listed in {index} does not exist", path);
                foreach (var t in SafetensorsFile.ReadHeader(path).Tensors)
                    if (map.TryGetValue(t.Name, out var s) && s == shard) shapes[t.Name] = [.. t.Shape];
            }
            var absent = map.Keys.Where(k => !shapes.ContainsKey(k)).Take(3).ToList();
            if (absent.Count > 0)
                throw new SafetensorsFormatException(index, $"weight_map lists tensors its shards do not contain: {string.Join(", ", absent)}");
            return new HfCheckpoint(directory, true, shapes);
        }
        var pickles = new[] { "pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "consolidated.00.pth" }
            .Where(f => File.Exists(Path.Combine(directory, f))).ToList();
        if (pickles.Count > 0)
            throw new InvalidDataException(
                $"{directory} holds PyTorch pickle weights ({pickles[0]}), which HybridSharp does not read (unsafe format); " +
                "convert them to safetensors first, e.g. model.save_pretrained(dir, safe_serialization=True)");
        throw new FileNotFoundException($"{directory} holds neither {SafetensorsFile.SingleFileName} nor {SafetensorsFile.IndexFileName}", single);
    }

    public long[]? Shape(string name) => Shapes.TryGetValue(name, out var s) ? s : null;

    public bool Has(string name) => Shapes.ContainsKey(name);

    /// <summary>Number of layers the tensor names cover (highest <c>layers.{i}</c> + 1), 0 when none.</summary>
    public int CountLayers()
    {
        int max = -1;
        foreach (var name in Shapes.Keys)
        {
            var m = LayerIndex.Match(name);
            if (m.Success && int.TryParse(m.Groups[1].Value, out int i)) max = Math.Max(max, i);
        }
        return max + 1;
    }

    /// <summary>Checks that the checkpoint's layer count matches <c>num_hidden_layers</c>.</summary>
    public void RequireLayers(int configured)
    {
        int found = CountLayers();
        if (found != configured)
            throw new InvalidDataException($"{Directory}: config.json says num_hidden_layers = {configured}, but the weights hold {found} layers");
    }

    /// <summary>Loads the source tensors <paramref name="include"/> accepts, into the current dispose scope.</summary>
    public Dictionary<string, Tensor> Load(Func<string, bool> include) => SafetensorsFile.LoadDirectory(Directory, include);
}

/// <summary>
/// How HF checkpoint tensors become HybridSharp tensors: renames (source → HybridSharp name; sources not listed are
/// dropped) and tensors to synthesise (e.g. zero biases). Tied heads are handled by <see cref="TieHead"/>.
/// </summary>
internal sealed class HfWeightPlan
{
    public Dictionary<string, string> Renames { get; } = new(StringComparer.Ordinal);

    /// <summary>HybridSharp name → factory of a tensor to add (zero bias, ones residual, …).</summary>
    public Dictionary<string, Func<Tensor>> Synthesized { get; } = new(StringComparer.Ordinal);

    /// <summary>When set: the source's <c>lm_head.weight</c> (named here) is dropped in favour of the tied embedding.</summary>
    public string? DroppedTiedHead { get; set; }

    /// <summary>When set: the embedding is missing and is taken from this (tied) head tensor.</summary>
    public string? EmbeddingFromHead { get; set; }

    public List<string> Notes { get; } = [];

    /// <summary>
    /// Resolves <c>tie_word_embeddings</c> against the presence of <c>lm_head.weight</c>: tied models keep only the
    /// embedding (a head that differs from it gets a note, as HF ties them anyway); untied models need the head.
    /// </summary>
    public bool TieHead(HfCheckpoint ckpt, bool tieConfigured, string sourceEmbedding, string sourceHead = "lm_head.weight")
    {
        bool hasHead = ckpt.Has(sourceHead), hasEmbed = ckpt.Has(sourceEmbedding);
        if (tieConfigured)
        {
            if (hasHead)
            {
                Renames.Remove(sourceHead);
                if (hasEmbed) DroppedTiedHead = sourceHead;
                else EmbeddingFromHead = sourceHead;
            }
            return true;
        }
        if (!hasHead)
            throw new InvalidDataException($"{ckpt.Directory}: lm_head.weight is missing and tie_word_embeddings is false");
        Renames[sourceHead] = "lm_head.weight";
        return false;
    }

    /// <summary>Loads the planned tensors from <paramref name="ckpt"/> into a HybridSharp-named dictionary (current dispose scope).</summary>
    public Dictionary<string, Tensor> Materialize(HfCheckpoint ckpt)
    {
        var wanted = new HashSet<string>(Renames.Keys, StringComparer.Ordinal);
        if (DroppedTiedHead is not null) wanted.Add(DroppedTiedHead);
        if (EmbeddingFromHead is not null) wanted.Add(EmbeddingFromHead);
        var source = ckpt.Load(wanted.Contains);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (from, to) in Renames)
            if (source.TryGetValue(from, out var t)) result[to] = t;
        if (EmbeddingFromHead is not null) result["model.embed_tokens.weight"] = source[EmbeddingFromHead];
        if (DroppedTiedHead is not null && result.TryGetValue("model.embed_tokens.weight", out var embed))
        {
            var head = source[DroppedTiedHead];
            if (!head.shape.SequenceEqual(embed.shape) || !head.to_type(ScalarType.Float32).eq(embed.to_type(ScalarType.Float32)).all().item<bool>())
                Notes.Add("lm_head.weight differs from the embeddings although tie_word_embeddings is true; like HF, the tied embeddings are used");
        }
        foreach (var (name, make) in Synthesized) result[name] = make();
        return result;
    }
}

/// <summary>A converted checkpoint: the HybridSharp config and how to obtain its tensors.</summary>
internal sealed record HfConversion(ModelConfig Config, HfWeightPlan Plan, string Architecture, string? DmaLayout = null, bool LegacyNames = false);
