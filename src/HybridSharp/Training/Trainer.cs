using System.Diagnostics;
using HybridSharp.Data.Corpus;
using HybridSharp.IO;
using HybridSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Checkpoints;

namespace HybridSharp.Training;

/// <summary>
/// Trains a <see cref="CausalLM"/> on a packed token dataset: AdamW with a no-decay group (every parameter with
/// fewer than 2 dimensions: norms, biases, residual vectors, SSM scalars), warmup + cosine or WSD schedule,
/// gradient clipping and accumulation, fp32 weights, periodic evaluation, and atomic checkpoints
/// (weights, optimizer moments, schedule step, RNG and data position) from which <c>--resume</c> continues exactly.
/// Runs on the calling thread (the model's owning thread), one dispose scope per step.
/// </summary>
public sealed class Trainer
{
    public const string CheckpointDirName = CheckpointRotation.Current;
    public const string MetricsFileName = "metrics.jsonl";
    public const string LossPlotFileName = "loss.png";

    private readonly CausalLM _model;
    private readonly ITrainingBatchSource _batches;
    private readonly TrainerOptions _o;
    private readonly string _outDir;

    public Trainer(CausalLM model, TokenDataset data, TrainerOptions options, string outputDirectory)
    {
        options.Validate();
        if (data.Manifest.VocabSize > model.Config.VocabSize)
            throw new ArgumentException($"dataset vocabulary ({data.Manifest.VocabSize}) is larger than the model's ({model.Config.VocabSize})");
        if (data.Train.Count < options.SeqLen + 1)
            throw new ArgumentException($"training split has {data.Train.Count} tokens, fewer than one window of {options.SeqLen + 1}");
        _model = model;
        _batches = new TokenDatasetBatchSource(data, options);
        _o = options;
        _outDir = outputDirectory;
    }

    /// <summary>Trains on batches from <paramref name="batches"/> (e.g. SFT examples with loss masks).</summary>
    public Trainer(CausalLM model, ITrainingBatchSource batches, TrainerOptions options, string outputDirectory)
    {
        options.Validate();
        _model = model;
        _batches = batches ?? throw new ArgumentNullException(nameof(batches));
        _o = options;
        _outDir = outputDirectory;
    }

    public string CheckpointDir => Path.Combine(_outDir, CheckpointDirName);

    /// <summary>True when the output directory holds a complete checkpoint to resume from (<see cref="CheckpointRotation"/>).</summary>
    public static bool HasCheckpoint(string outputDirectory) => CheckpointRotation.FindNewest(outputDirectory) is not null;

    /// <summary>The state of the newest complete checkpoint in <paramref name="outputDirectory"/>, or null.</summary>
    public static TrainerState? ReadCheckpointState(string outputDirectory) => CheckpointRotation.FindNewest(outputDirectory)?.State;

    public TrainResult Run(bool resume, CancellationToken cancel = default, Action<TrainProgress>? progress = null, Action<string>? log = null)
    {
        Directory.CreateDirectory(_outDir);
        using var metrics = new MetricsLog(Path.Combine(_outDir, MetricsFileName), Path.Combine(_outDir, MetricsLog.TensorBoardDirName));
        var sampler = _batches;
        var schedule = new LearningRateSchedule(_o.Schedule, _o.LearningRate, _o.MinLearningRate, _o.WarmupSteps, _o.Steps, _o.DecayFraction);

        using var optimizer = WeightDecayGroups.AdamW(_model, _o.LearningRate, _o.WeightDecay, _o.Beta1, _o.Beta2, _o.Epsilon);

        int startStep = 0;
        long tokens = 0;
        torch.manual_seed(_o.Seed);
        if (resume)
        {
            var state = LoadCheckpoint(optimizer, log);
            startStep = state.Step;
            tokens = state.Tokens;
            sampler.Restore(state.Sampler);
            if (state.TorchRngState is { } rng)
            {
                using var t = tensor(Convert.FromBase64String(rng), dtype: ScalarType.Byte);
                torch.set_rng_state(t);
            }
            metrics.TruncateAfter(startStep);
            log?.Invoke($"resumed from step {startStep} ({tokens:N0} tokens seen)");
        }
        else if (File.Exists(metrics.Path))
        {
            File.Delete(metrics.Path);
        }

        var allParams = _model.named_parameters().OrderBy(p => WeightDecayGroups.Decays(p.name, p.parameter) ? 0 : 1)
            .Select(p => p.parameter).ToList();   // decayed first, as grouped
        var losses = new List<double>();
        double lastLoss = double.NaN;
        double? lastEval = null;
        long tokensThisRun = 0;
        var clock = Stopwatch.StartNew();
        int stepsThisRun = 0;
        bool interrupted = false;
        _model.train();

        int step = startStep;
        while (step < _o.Steps)
        {
            double lr = schedule.At(step);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            double stepLoss = 0, gradNorm;
            long stepTokens = 0;
            using (NewDisposeScope())
            {
                optimizer.zero_grad();
                for (int micro = 0; micro < _o.GradAccumulation; micro++)
                {
                    var batch = sampler.NextBatch();
                    stepTokens += sampler.TokenCount(batch);
                    var loss = sampler.Loss(_model, batch);
                    if (_o.GradAccumulation > 1) loss = loss.div(_o.GradAccumulation);
                    loss.backward();
                    stepLoss += loss.item<float>();
                }
                gradNorm = _o.ClipNorm > 0
                    ? nn.utils.clip_grad_norm_(allParams, _o.ClipNorm)
                    : nn.utils.clip_grad_norm_(allParams, double.MaxValue);
                optimizer.step();
            }
            if (!double.IsFinite(stepLoss))
                throw new InvalidOperationException($"loss became {stepLoss} at step {step + 1}; lower `TrainerOptions.LearningRate` or check the data");
            step++;
            stepsThisRun++;
            tokens += stepTokens;
            tokensThisRun += stepTokens;
            lastLoss = stepLoss;
            losses.Add(stepLoss);

            double tps = tokensThisRun / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            bool doEval = _o.EvalEvery > 0 && (step % _o.EvalEvery == 0 || step == _o.Steps);
            double? evalLoss = null;
            if (doEval)
            {
                evalLoss = Evaluate();
                lastEval = evalLoss;
            }
            if (step % Math.Max(_o.LogEvery, 1) == 0 || doEval || step == _o.Steps)
            {
                metrics.Append(new TrainingMetric
                {
                    Step = step, Loss = stepLoss, LearningRate = lr, GradNorm = gradNorm, Tokens = tokens, TokensPerSecond = tps,
                    MoeLoadBalance = _model.LastLoadBalanceLoss, EvalLoss = evalLoss, EvalPerplexity = evalLoss is { } e ? Math.Exp(e) : null,
                });
            }
            var eta = TimeSpan.FromSeconds((_o.Steps - step) * clock.Elapsed.TotalSeconds / stepsThisRun);
            progress?.Invoke(new TrainProgress(step, _o.Steps, stepLoss, lr, tps, eta, evalLoss));

            bool stopNow = cancel.IsCancellationRequested
                || (_o.StopAfterSteps > 0 && stepsThisRun >= _o.StopAfterSteps)
                || (_o.TimeBudget is { } budget && clock.Elapsed >= budget);
            if ((_o.CheckpointEvery > 0 && step % _o.CheckpointEvery == 0) || stopNow || step == _o.Steps)
                SaveCheckpoint(optimizer, new TrainerState
                {
                    Step = step, Tokens = tokens, Sampler = sampler.State, TorchRngState = RngState(),
                    TotalSteps = _o.Steps, Schedule = _o.Schedule, Seed = _o.Seed, LastLoss = stepLoss,
                });
            if (stopNow)
            {
                interrupted = cancel.IsCancellationRequested;
                break;
            }
        }

        _model.eval();
        try { LossPlot.Write(MetricsLog.Read(metrics.Path), Path.Combine(_outDir, LossPlotFileName)); }
        catch (Exception ex) when (ex is not OutOfMemoryException) { log?.Invoke($"loss plot skipped: {ex.Message}"); }
        return new TrainResult(step, step >= _o.Steps, interrupted, lastLoss, lastEval, tokens, losses);
    }

    /// <summary>Mean validation loss over up to EvalBatches batches (nats/token).</summary>
    public double Evaluate()
    {
        bool wasTraining = _model.training;
        _model.eval();
        double sum = 0;
        int n = 0;
        try
        {
            using var _ = no_grad();
            foreach (var batch in _batches.EvaluationBatches(_o.EvalBatches))
            {
                using var scope = NewDisposeScope();
                sum += _batches.Loss(_model, batch).item<float>();
                n++;
            }
        }
        finally
        {
            if (wasTraining) _model.train();
        }
        return n == 0 ? double.NaN : sum / n;
    }

    private static string RngState()
    {
        using var t = torch.get_rng_state();
        return Convert.ToBase64String(t.data<byte>().ToArray());
    }

    private void SaveCheckpoint(AdamW optimizer, TrainerState state) =>
        CheckpointRotation.Save(_outDir, state, dir =>
        {
            ModelDirectory.SaveWeights(_model, Path.Combine(dir, ModelDirectory.WeightsFile));
            AtomicFile.Write(Path.Combine(dir, "optimizer.bin"), s =>
            {
                using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.save_state_dict(w);
            });
        });

    private TrainerState LoadCheckpoint(AdamW optimizer, Action<string>? log)
    {
        var found = CheckpointRotation.Promote(_outDir)
            ?? throw new FileNotFoundException($"no complete checkpoint to resume in {_outDir} (expected {CheckpointDir}/{CheckpointRotation.ManifestFile})");
        if (found.State is var state && (state.TotalSteps != _o.Steps || state.Schedule != _o.Schedule || state.Seed != _o.Seed))
            throw new ArgumentException($"checkpoint was made with steps={found.State.TotalSteps}, schedule={found.State.Schedule}, seed={found.State.Seed}; resume with the same settings");
        log?.Invoke($"resuming from the checkpoint at step {found.State.Step} (found as {found.Name}/)");
        ModelDirectory.LoadWeights(_model, Path.Combine(found.Directory, ModelDirectory.WeightsFile));
        using (var fs = File.OpenRead(Path.Combine(found.Directory, "optimizer.bin")))
        using (var r = new BinaryReader(fs))
            optimizer.load_state_dict(r);
        return found.State;
    }
}
