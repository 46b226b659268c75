using HybridSharp.Data.Tokenizers;
using HybridSharp.IO;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.IO.Safetensors;
using HybridSharp.Modules;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Checkpoints;

/// <summary>
/// A model directory: <c>config.json</c>, <c>model.safetensors</c> (or shards + index), tokenizer files and
/// <c>generation_config.json</c>. Tied models omit <c>lm_head.weight</c>.
/// </summary>
public static class ModelDirectory
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string ShardIndexFile = "model.safetensors.index.json";

    /// <summary>Writes a complete model directory (each file atomically).</summary>
    public static void Save(CausalLM model, ITokenizer tokenizer, string directory, int maxNewTokens = 256)
    {
        Directory.CreateDirectory(directory);
        model.Config.Save(Path.Combine(directory, ConfigFile));
        SaveWeights(model, Path.Combine(directory, WeightsFile));
        TokenizerFactory.Save(tokenizer, directory);
        var gen = new JsonObject
        {
            ["bos_token_id"] = tokenizer.BosId,
            ["eos_token_id"] = tokenizer.EosId,
            ["pad_token_id"] = tokenizer.PadId,
            ["max_new_tokens"] = maxNewTokens,
            ["do_sample"] = true,
            ["temperature"] = 0.7,
            ["top_k"] = 40,
            ["top_p"] = 0.95,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, GenerationConfig.FileName), gen.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Saves weights as safetensors (fp32 as held; tied lm_head is not a separate parameter, so it is not written).</summary>
    public static void SaveWeights(CausalLM model, string path)
    {
        using var scope = NewDisposeScope();
        var tensors = MixtureOfExperts.ToCheckpointNames(model, StateDictLoader.Export(model));
        SafetensorsFile.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "HybridSharp" });
    }

    /// <summary>
    /// A host's escape hatch for the whole process (the CLI's <c>--allow-nonfinite</c>): load weights that hold NaN or
    /// ±∞, e.g. to inspect a diverged run. Off by default: such weights are refused by name.
    /// </summary>
    public static bool AllowNonFiniteWeights { get; set; }

    /// <summary>
    /// Loads weights by name; reports missing, unexpected and mis-shaped tensors in one error, and refuses a tensor that
    /// holds NaN or ±∞ (unless <see cref="AllowNonFiniteWeights"/>).
    /// </summary>
    public static void LoadWeights(CausalLM model, string path)
    {
        using var scope = NewDisposeScope();
        var tensors = File.Exists(path) ? SafetensorsFile.Load(path) : SafetensorsFile.LoadDirectory(Path.GetDirectoryName(path)!);
        if (!AllowNonFiniteWeights)
            foreach (var (name, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!t.is_floating_point()) continue;
                long bad = t.isfinite().logical_not().sum().item<long>();
                if (bad > 0)
                    throw new InvalidDataException($"{path}: tensor {name} holds {bad} NaN or infinite value{(bad == 1 ? "" : "s")} of {t.numel()}; " +
                        "set `ModelDirectory.AllowNonFiniteWeights` to load it anyway");
            }
        StateDictLoader.Load(model, MixtureOfExperts.FromCheckpointNames(model, tensors), strict: true);
    }

    /// <summary>True when <paramref name="directory"/> looks like a model directory.</summary>
    public static bool IsModelDirectory(string directory) => File.Exists(Path.Combine(directory, ConfigFile));

    /// <summary>Loads config, weights (when present, else fresh initialisation) and tokenizer. Construct outside dispose scopes.</summary>
    public static (CausalLM Model, ITokenizer Tokenizer) Load(string directory, bool requireWeights = true)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"model directory not found: {directory}");
        var cfgPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(cfgPath)) throw new FileNotFoundException($"{directory} is not a model directory (no {ConfigFile})");
        var cfg = ModelConfig.Load(cfgPath);
        if (!TokenizerKinds.All.Contains(cfg.TokenizerKind))
            throw new ConfigException($"{cfgPath}: tokenizer_kind '{cfg.TokenizerKind}' is not known (known: {string.Join(", ", TokenizerKinds.All)})");
        var tokenizer = TokenizerFactory.Load(directory, cfg.TokenizerKind);
        if (tokenizer.VocabSize > cfg.VocabSize)
            throw new ConfigException($"{cfgPath}: vocab_size {cfg.VocabSize} is smaller than the tokenizer's {tokenizer.VocabSize}");
        var model = new CausalLM(cfg);
        bool hasWeights = File.Exists(Path.Combine(directory, WeightsFile)) || File.Exists(Path.Combine(directory, ShardIndexFile));
        if (hasWeights) LoadWeights(model, Path.Combine(directory, WeightsFile));
        else if (requireWeights) throw new FileNotFoundException($"{directory} has no {WeightsFile}; train it first");
        model.eval();
        return (model, tokenizer);
    }
}
