using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Data.Tokenizers;
using HybridSharp.IO.Safetensors;
using HybridSharp.Models;
using HybridSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Checkpoints.HfInterop;

/// <summary>Options of <see cref="HfImporter.Import"/>.</summary>
public sealed record HfImportOptions
{
    /// <summary>Replace an existing model directory at the target.</summary>
    public bool Overwrite { get; init; }
}

/// <summary>What <see cref="HfImporter.Import"/> did.</summary>
/// <param name="TargetDir">The HybridSharp model directory written.</param>
/// <param name="SourceModelType">The source's <c>model_type</c>.</param>
/// <param name="Architecture">The HF architecture the source was read as (DogeForCausalLM, LlamaForCausalLM, Mamba2ForCausalLM).</param>
/// <param name="DmaLayout">"upstream" or "legacy" for Doge checkpoints, else null.</param>
/// <param name="LegacyNames">True when legacy small-doge tensor names were renamed.</param>
/// <param name="Sharded">True when the source weights were sharded.</param>
/// <param name="TokenizerKind">The tokenizer kind recorded in the new config ("hf", "byte", …).</param>
/// <param name="Parameters">Parameter count of the imported model.</param>
/// <param name="Notes">Things the user should know (dropped tensors, ignored settings, tokenizer fallbacks).</param>
public sealed record HfImportResult(string TargetDir, string SourceModelType, string Architecture, string? DmaLayout, bool LegacyNames,
    bool Sharded, string TokenizerKind, long Parameters, IReadOnlyList<string> Notes);

/// <summary>
/// Converts a Hugging Face model directory into a HybridSharp model directory (config.json, model.safetensors,
/// tokenizer files, generation_config.json). Supported <c>model_type</c>s: <c>doge</c> (upstream and legacy layouts,
/// dense and CDMoE), <c>llama</c> / <c>mistral</c> / <c>qwen2</c> (Llama layout) and <c>mamba2</c>. The result is
/// written to a staging folder, re-loaded with <see cref="ModelDirectory.Load"/> (strict names and shapes), and only
/// then moved into place.
/// </summary>
public static class HfImporter
{
    /// <summary>The <c>model_type</c> values <see cref="Import"/> accepts.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["doge", .. HfLlamaMapping.ModelTypes, "mamba2"];

    /// <summary>Imports <paramref name="sourceDir"/> into <paramref name="targetDir"/>.</summary>
    /// <exception cref="ArgumentException">Unsupported model_type or RoPE scaling, target exists without overwrite, source = target.</exception>
    /// <exception cref="InvalidDataException">Config and weights disagree, or a layout cannot be mapped.</exception>
    /// <exception cref="CheckpointMismatchException">Tensor names or shapes do not fit the derived config.</exception>
    public static HfImportResult Import(string sourceDir, string targetDir, HfImportOptions? options = null)
    {
        options ??= new HfImportOptions();
        if (!Directory.Exists(sourceDir)) throw new DirectoryNotFoundException($"source directory not found: {sourceDir}");
        HfStaging.CheckTarget(sourceDir, targetDir, options.Overwrite);
        var configPath = Path.Combine(sourceDir, ModelDirectory.ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{sourceDir} is not a Hugging Face model directory (no {ModelDirectory.ConfigFile})", configPath);
        var hfConfig = HfJson.ReadObject(configPath);
        var modelType = HfJson.Str(hfConfig, "model_type");
        if (modelType is null || !SupportedModelTypes.Contains(modelType))
            throw new ArgumentException(
                $"{configPath}: model_type '{modelType ?? "(missing)"}' is not supported by hybrid import (supported: {string.Join(", ", SupportedModelTypes)})");

        var ckpt = HfCheckpoint.Open(sourceDir);
        var conv = modelType switch
        {
            "doge" => HfDogeMapping.Convert(hfConfig, ckpt),
            "mamba2" => HfMamba2Mapping.Convert(hfConfig, ckpt),
            _ => HfLlamaMapping.Convert(modelType, hfConfig, ckpt),
        };
        var cfg = conv.Config;
        var notes = conv.Plan.Notes;

        // Tokenizer: the kind the directory names (tokenizer_config.json "hybridsharp_tokenizer", else "hf" for a tokenizer.json).
        string? kind = TokenizerKinds.Detect(sourceDir);
        ITokenizer tokenizer;
        if (kind is null)
        {
            tokenizer = new ByteTokenizer();
            notes.Add("the source has no tokenizer.json: the byte tokenizer is recorded, which is not what the model was trained with; " +
                      $"copy the right tokenizer.json into {targetDir} before generating text");
        }
        else
        {
            try { tokenizer = TokenizerKinds.Create(kind, sourceDir); }
            catch (ArgumentException ex) { throw new ArgumentException($"{sourceDir}: the tokenizer cannot be used by HybridSharp: {ex.Message}", ex); }
        }
        cfg.TokenizerKind = kind ?? TokenizerKinds.Byte;
        if (kind is not null)
        {
            cfg.BosTokenId ??= tokenizer.BosId;
            cfg.EosTokenId ??= [tokenizer.EosId];
            cfg.PadTokenId ??= tokenizer.PadId;
        }
        if (tokenizer.VocabSize > cfg.VocabSize)
            throw new InvalidDataException($"{sourceDir}: the tokenizer has {tokenizer.VocabSize} ids but the model's vocabulary only {cfg.VocabSize}");
        try { cfg.Resolve(); }
        catch (ConfigException ex) { throw new ConfigException($"{configPath}: {ex.Message}"); }

        long parameters;
        var staging = HfStaging.Create(targetDir);
        try
        {
            using (var model = new CausalLM(cfg))
            {
                using (var scope = NewDisposeScope())
                {
                    var tensors = conv.Plan.Materialize(ckpt);
                    try { StateDictLoader.Load(model, MixtureOfExperts.FromCheckpointNames(model, tensors), strict: true); }
                    catch (CheckpointMismatchException ex)
                    {
                        throw new InvalidDataException($"{sourceDir}: the weights do not fit the config derived from config.json: {ex.Message}", ex);
                    }
                }
                ModelDirectory.Save(model, tokenizer, staging, Math.Min(256, cfg.MaxPositionEmbeddings));
                parameters = model.ParameterCount();
            }
            var generation = Path.Combine(sourceDir, GenerationConfig.FileName);
            if (File.Exists(generation)) File.Copy(generation, Path.Combine(staging, GenerationConfig.FileName), overwrite: true);

            var (check, _) = ModelDirectory.Load(staging); // strict name/shape validation of what was written
            check.Dispose();
            HfStaging.Publish(staging, targetDir);
        }
        finally
        {
            HfStaging.Discard(staging);
        }
        return new HfImportResult(Path.GetFullPath(targetDir), modelType, conv.Architecture, conv.DmaLayout, conv.LegacyNames, ckpt.Sharded,
            cfg.TokenizerKind, parameters, notes);
    }
}
