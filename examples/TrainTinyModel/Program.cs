using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using HybridSharp.Models;
using HybridSharp.Training;
using HybridSharp.Checkpoints;

namespace HybridSharp.Examples.TrainTinyModel;

/// <summary>Trains a tiny TransXSSM hybrid on a text file and saves a model directory: <c>TrainTinyModel FILE OUT [STEPS]</c>.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out);

    public static int Run(string[] args, TextWriter output)
    {
        if (args.Length < 2) { output.WriteLine("usage: TrainTinyModel FILE OUT_DIR [STEPS]"); return 2; }
        string file = args[0], outDir = args[1];
        int steps = args.Length > 2 ? int.Parse(args[2]) : 200;

        // 1. Tokenize the text into training and validation shards (byte tokenizer: no vocabulary file needed).
        var tokenizer = new ByteTokenizer();
        var dataDir = Path.Combine(outDir, "data");
        new CorpusBuilder(tokenizer, new CorpusBuilderOptions { ValidationFraction = 0.1 }).AddFile(file).Build(dataDir);

        // 2. A small hybrid: three SSD-with-RoPE layers and one attention layer under one rotary table.
        var config = Presets.Get("transxssm-tiny");
        using var model = new CausalLM(config, seed: 1);

        // 3. Train with AdamW, warmup and cosine decay; checkpoints and metrics.jsonl go to OUT_DIR.
        using var data = TokenDataset.Open(dataDir);
        var options = new TrainerOptions
        {
            Steps = steps, BatchSize = 8, SeqLen = 128, LearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = Math.Min(20, steps / 5),
            EvalEvery = 0, CheckpointEvery = 0, LogEvery = 1, Seed = 1,
        };
        var result = new Trainer(model, data, options, outDir).Run(resume: false);

        // 4. Save a model directory that `hybrid generate`, `hybrid serve` and the other examples load.
        ModelDirectory.Save(model, tokenizer, Path.Combine(outDir, "model"));
        output.WriteLine($"trained {result.FinalStep} steps, final loss {result.LastLoss:F3}; model in {Path.Combine(outDir, "model")}");
        return 0;
    }
}
