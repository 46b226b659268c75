using System.Diagnostics;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using HybridSharp.Eval;
using HybridSharp.Models;
using HybridSharp.Training;

namespace HybridSharp.Bench;

/// <summary>
/// Quality run: transformer, transxssm, transxssm-norope and mamba2 at (nearly) equal parameters, trained
/// on the same tokens of real English text in the same order, compared by validation perplexity (bits per byte too,
/// since the tokenizer is byte-level). Default corpus: Vim's help files (plain-English manual pages shipped with
/// Debian's vim package); any folder of .txt files can be given instead.
/// </summary>
public static class QualityRun
{
    public static void Run(string corpusDir, string outDir, int steps, int batch, int seqLen, string[]? only = null, int seed = 1)
    {
        if (!Directory.Exists(corpusDir)) throw new DirectoryNotFoundException($"corpus folder not found: {corpusDir}");
        var files = Directory.GetFiles(corpusDir, "*.txt").OrderBy(f => f, StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new FileNotFoundException($"no .txt files in {corpusDir}");
        var dataDir = Path.Combine(outDir, "data");
        var tok = new ByteTokenizer();
        if (!File.Exists(Path.Combine(dataDir, DatasetManifest.FileName)))
            new CorpusBuilder(tok, new CorpusBuilderOptions { ValidationFraction = 0.05, Seed = 17 }).AddFiles(files).Build(dataDir);
        using var data = TokenDataset.Open(dataDir);
        Console.WriteLine($"corpus: {files.Length} files from {corpusDir}; {data.Manifest.TrainTokens:N0} train / {data.Manifest.ValidationTokens:N0} validation byte tokens");
        Console.WriteLine($"seed {seed} (initialisation; data order {(seed == 1 ? 5 : 5 + seed)})");
        Console.WriteLine($"training: {steps} steps × {batch}×{seqLen} tokens = {(long)steps * batch * seqLen:N0} tokens per model, AdamW lr 2e-3 cosine, same data order");
        Console.WriteLine();
        Console.WriteLine("| model | layers | params (non-embedding) | train time | final train loss | val loss (nats/byte) | val perplexity | bits/byte |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, cfg) in Models().Where(m => only is null || only.Contains(m.Item1)))
        {
            using var model = new CausalLM(cfg, seed: seed);   // seed 1 with data order 5: the recorded run
            var options = new TrainerOptions
            {
                Steps = steps, BatchSize = batch, SeqLen = seqLen, LearningRate = 2e-3, MinLearningRate = 2e-4,
                WarmupSteps = Math.Max(1, steps / 20), EvalEvery = 0, CheckpointEvery = 0, LogEvery = 10, Seed = seed == 1 ? 5 : 5 + seed,
            };
            var sw = Stopwatch.StartNew();
            var result = new Trainer(model, data, options, Path.Combine(outDir, $"{name}-seed{seed}")).Run(resume: false);
            var (nll, ppl, _) = TextScorer.ScoreShard(model, data.Validation, seqLen, 8);
            var info = ModelInfo.For(cfg, seqLen);
            Console.WriteLine($"| {name} | {LayerPattern.Describe(Enumerable.Range(0, cfg.NumHiddenLayers).Select(cfg.LayerType))} | {info.NonEmbeddingParameters:N0} | {sw.Elapsed:mm\\:ss} | {result.LastLoss:F3} | {nll:F4} | {ppl:F3} | {nll / Math.Log(2):F3} |");
        }
    }

    /// <summary>The four presets, with depth/FFN nudged so parameter counts match within a few percent.</summary>
    private static IEnumerable<(string, ModelConfig)> Models()
    {
        var transformer = Presets.Get("transformer");
        transformer.IntermediateSize = 576; // 5.18M vs transxssm's 5.26M
        yield return ("transformer", transformer);
        yield return ("transxssm", Presets.Get("transxssm"));
        yield return ("transxssm-norope", Presets.Get("transxssm-norope"));
        var mamba2 = Presets.Get("mamba2");
        mamba2.NumHiddenLayers = 12; // 12 × 0.43M ≈ 5.2M
        mamba2.LayerTypes = LayerPattern.Uniform(12, MixerTypes.Ssd);
        mamba2.MlpTypes = LayerPattern.Uniform(12, FfnTypes.None);
        yield return ("mamba2", mamba2);
    }
}
