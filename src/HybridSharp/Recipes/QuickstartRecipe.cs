using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.IO;
using HybridSharp.Models;
using HybridSharp.Sft;
using HybridSharp.Tasks;
using HybridSharp.Training;
using HybridSharp.Checkpoints;

namespace HybridSharp.Recipes;

/// <summary>
/// The quickstart as a library call: build the examples, train a preset on them with the shared <see cref="Trainer"/>
/// (checkpoints, resume, metrics and TensorBoard in the model directory), then evaluate held-out problems with greedy
/// decoding. Hosts show progress; the stages and their settings live here.
/// </summary>
public sealed class QuickstartRecipe
{
    /// <summary>Written beside the model once training finished (step, tokens, loss).</summary>
    public const string DoneFileName = "trained.json";

    private readonly QuickstartOptions _o;

    public QuickstartRecipe(QuickstartOptions options)
    {
        options.Validate();
        _o = options;
    }

    public QuickstartOptions Options => _o;

    /// <summary>The tokenizer of the quickstart: bytes, so nothing has to be downloaded.</summary>
    public ITokenizer Tokenizer { get; } = new ByteTokenizer();

    /// <summary>Trainer settings derived from the options (evaluation and checkpoints six times per run).</summary>
    public TrainerOptions TrainerOptions => new()
    {
        Steps = _o.Steps, BatchSize = _o.BatchSize, SeqLen = 512, LearningRate = _o.LearningRate,
        MinLearningRate = _o.MinLearningRate, WarmupSteps = Math.Min(_o.WarmupSteps, _o.Steps / 2), Schedule = _o.Schedule,
        EvalEvery = Math.Max(1, _o.Steps / 6), CheckpointEvery = Math.Max(1, _o.Steps / 6), EvalBatches = 8,
        TimeBudget = TimeSpan.FromMinutes(_o.Minutes), Seed = _o.Seed,
    };

    /// <summary>Builds the training examples (a few seconds) and writes the problems to <paramref name="dataDirectory"/>/problems.jsonl for reading.</summary>
    public SftBatchSource BuildData(string? dataDirectory = null)
    {
        var (train, validation, problems) = QuickstartData.Build(_o, Tokenizer);
        if (dataDirectory is not null)
        {
            Directory.CreateDirectory(dataDirectory);
            var lines = problems.Select(p => System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["prompt"] = ArithmeticFormat.Prompt(p),
                ["completion"] = ArithmeticFormat.Completion(p, SolutionStyle.Concise),
                ["answer"] = p.Answer,
                ["operations"] = p.Difficulty,
            }));
            AtomicFile.WriteAllText(Path.Combine(dataDirectory, "problems.jsonl"), string.Join("\n", lines) + "\n");
        }
        TrainTokens = train.Sum(e => (long)e.Length);
        return new SftBatchSource(train, validation, _o.BatchSize, _o.Seed, Tokenizer.PadId);
    }

    /// <summary>Tokens of the training examples built by <see cref="BuildData"/>.</summary>
    public long TrainTokens { get; private set; }

    /// <summary>
    /// Creates (or reopens, to resume) the model directory and trains; the model directory holds the final weights
    /// afterwards. Returns the trained model (the caller disposes it) and the run's result.
    /// </summary>
    public (CausalLM Model, TrainResult Result) Train(SftBatchSource data, string modelDirectory, CancellationToken cancel = default,
        Action<TrainProgress>? progress = null, Action<string>? log = null) =>
        Train(Presets.Get(_o.Preset), TrainerOptions, data, modelDirectory, cancel, progress, log);

    private (CausalLM Model, TrainResult Result) Train(ModelConfig config, TrainerOptions options, SftBatchSource data, string modelDirectory,
        CancellationToken cancel, Action<TrainProgress>? progress, Action<string>? log)
    {
        bool resume = Trainer.HasCheckpoint(modelDirectory);
        if (!ModelDirectory.IsModelDirectory(modelDirectory))
        {
            using var init = new CausalLM(config, seed: _o.Seed);
            ModelDirectory.Save(init, Tokenizer, modelDirectory);
        }
        var (model, _) = ModelDirectory.Load(modelDirectory, requireWeights: false);
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            if (!resume) data.Restore(new Data.Corpus.SamplerState(_o.Seed, 0, 0));
            var result = new Trainer(model, data, options, modelDirectory).Run(resume, cancel, progress, log);
            ModelDirectory.Save(model, Tokenizer, modelDirectory);
            if (!result.Interrupted)
                AtomicFile.WriteAllText(Path.Combine(modelDirectory, DoneFileName), System.Text.Json.JsonSerializer.Serialize(
                    new TrainingSummary(result.FinalStep, result.Tokens, result.LastLoss, result.LastEvalLoss, clock.Elapsed.TotalSeconds + PreviousSeconds(modelDirectory, resume))) + "\n");
            return (model, result);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static double PreviousSeconds(string modelDirectory, bool resume) =>
        resume && ReadSummary(modelDirectory) is { } earlier ? earlier.Seconds : 0;

    /// <summary>What <see cref="DoneFileName"/> records about a finished training run.</summary>
    public sealed record TrainingSummary(int Step, long Tokens, double Loss, double? ValidationLoss, double Seconds)
    {
        /// <summary>Training tokens per second of wall time.</summary>
        public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
    }

    /// <summary>The summary of a finished run in <paramref name="modelDirectory"/>, or null.</summary>
    public static TrainingSummary? ReadSummary(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, DoneFileName);
        if (!File.Exists(path)) return null;
        try { return System.Text.Json.JsonSerializer.Deserialize<TrainingSummary>(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    /// <summary>
    /// The Transformer baseline of the comparison: the quickstart model's width, depth, heads and vocabulary with
    /// attention and a SwiGLU in every layer (no SSM, DMA, MoE or Expresser parts), plain pre-norm blocks, and the
    /// SwiGLU width that brings its parameter count closest to the hybrid's.
    /// </summary>
    public static ModelConfig EqualSizeTransformer(ModelConfig hybrid)
    {
        long target;
        using (var m = new CausalLM(hybrid, seed: 0)) target = m.ParameterCount();
        ModelConfig WithWidth(int inter)
        {
            var cfg = hybrid.Clone();
            cfg.ModelType = "llama";
            cfg.Architectures = ["LlamaForCausalLM"];
            cfg.LayerTypes = Enumerable.Repeat(MixerTypes.Attention, cfg.NumHiddenLayers).ToList();
            cfg.UseResidualVectors = false;
            cfg.MlpTypes = null; // SwiGLU everywhere
            cfg.Ssd = null;
            cfg.Mamba1 = null;
            cfg.Dma = null;
            cfg.Moe = null;
            cfg.ExpresserLayers = null;
            cfg.LognScaling = false;
            cfg.Preset = null;
            cfg.IntermediateSize = inter;
            return cfg;
        }
        // The count grows with the SwiGLU width: bisect over multiples of 8, then take the closer neighbour.
        int lo = 1, hi = 64 * hybrid.HiddenSize / 8;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (CountParameters(WithWidth(8 * mid)) < target) lo = mid + 1; else hi = mid;
        }
        var above = WithWidth(8 * lo);
        if (lo == 1) return above;
        var below = WithWidth(8 * (lo - 1));
        return Math.Abs(CountParameters(below) - target) <= Math.Abs(CountParameters(above) - target) ? below : above;
    }

    private static long CountParameters(ModelConfig config)
    {
        using var m = new CausalLM(config, seed: 0);
        return m.ParameterCount();
    }

    /// <summary>
    /// Trains <paramref name="config"/> on the same examples for about <paramref name="wallTime"/>: a short probe
    /// measures its step time, and its step count is set so that the whole learning-rate schedule fits the time (the
    /// time bound still applies). Returns the trained model, the result and the steps it was given.
    /// </summary>
    public (CausalLM Model, TrainResult Result, int Steps) TrainForWallTime(ModelConfig config, SftBatchSource data, string modelDirectory,
        TimeSpan wallTime, CancellationToken cancel = default, Action<TrainProgress>? progress = null)
    {
        // The first steps pay one-time costs (allocator warm-up, first-touch pages): time steps 5 to 36 only.
        const int warmSteps = 4, probeSteps = 36;
        // An interrupted run resumes with the step count it started with (its schedule depends on it).
        if (Trainer.ReadCheckpointState(modelDirectory) is { } state && ModelDirectory.IsModelDirectory(modelDirectory))
            return Continue(state.TotalSteps);
        double secondsPerStep;
        var probeDir = Path.Combine(Path.GetTempPath(), "hybrid-probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var probe = new CausalLM(config, seed: _o.Seed);
            data.Restore(new Data.Corpus.SamplerState(_o.Seed, 0, 0));
            var probeOptions = TrainerOptions with { Steps = probeSteps, EvalEvery = 0, CheckpointEvery = 0, TimeBudget = null, WarmupSteps = 1 };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            double warmAt = 0;
            new Trainer(probe, data, probeOptions, probeDir).Run(resume: false, cancel, p => { if (p.Step == warmSteps) warmAt = clock.Elapsed.TotalSeconds; });
            secondsPerStep = (clock.Elapsed.TotalSeconds - warmAt) / (probeSteps - warmSteps);
        }
        finally
        {
            if (Directory.Exists(probeDir)) Directory.Delete(probeDir, recursive: true);
        }
        // Evaluations and checkpoints take about one percent of the time; leave room for them.
        return Continue(Math.Max(probeSteps, (int)(wallTime.TotalSeconds * 0.98 / secondsPerStep)));

        (CausalLM Model, TrainResult Result, int Steps) Continue(int steps)
        {
            var options = TrainerOptions with
            {
                Steps = steps, EvalEvery = Math.Max(1, steps / 6), CheckpointEvery = Math.Max(1, steps / 6),
                WarmupSteps = Math.Min(_o.WarmupSteps, steps / 2), TimeBudget = wallTime,
            };
            var (model, result) = Train(config, options, data, modelDirectory, cancel, progress, null);
            return (model, result, steps);
        }
    }

    /// <summary>The context the comparison decodes after: near the model's longest, at most 2,048 tokens, leaving room for the new tokens.</summary>
    public static int DecodeContext(ModelConfig config) => Math.Min(2048, config.MaxPositionEmbeddings) - 160;

    /// <summary>
    /// Batch-1 greedy decode speed after a prompt of <paramref name="context"/> tokens: the time of
    /// <paramref name="tokens"/> + 1 new tokens minus the time of one (the prefill), median of three.
    /// </summary>
    public static double DecodeTokensPerSecond(CausalLM model, ITokenizer tokenizer, int context, int tokens = 128)
    {
        var rng = new Random(5);
        int[] prompt = [tokenizer.BosId, .. Enumerable.Range(0, context - 1).Select(_ => rng.Next(32, 127))];
        var generator = new TextGenerator(model, tokenizer);
        double Time(int n)
        {
            var options = new GenerationOptions { MaxNewTokens = n, Sampling = SamplingOptions.Greedy, StopTokens = [] };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            generator.GenerateIds([prompt], options);
            return clock.Elapsed.TotalSeconds;
        }
        Time(2); // warm-up
        var runs = Enumerable.Range(0, 3).Select(_ => tokens / Math.Max(1e-9, Time(tokens + 1) - Time(1))).Order().ToList();
        return runs[1];
    }

    /// <summary>True when <paramref name="modelDirectory"/> holds a finished quickstart model.</summary>
    public static bool IsTrained(string modelDirectory) =>
        File.Exists(Path.Combine(modelDirectory, DoneFileName)) && File.Exists(Path.Combine(modelDirectory, ModelDirectory.WeightsFile));

    /// <summary>Greedy accuracy on the held-out problems, by number of operations.</summary>
    public ArithmeticReport Evaluate(CausalLM model, Action<int>? onProgress = null) =>
        ArithmeticEval.Run(new TextGenerator(model, Tokenizer), QuickstartData.HeldOut(_o), batchSize: 16, maxNewTokens: 64, onProgress);

    /// <summary>The sample to show: the first held-out problem of the easiest level evaluated.</summary>
    public static ArithmeticResult Sample(ArithmeticReport report) =>
        report.Results.OrderBy(r => r.Problem.Difficulty).First();
}
