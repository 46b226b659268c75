using HybridSharp.Distill;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Config;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using HybridSharp.TeacherSim;
using HybridSharp.Eval.Reasoning;
using HybridSharp.Inference;
using HybridSharp.IO;
using HybridSharp.Models;
using HybridSharp.Recipes;
using HybridSharp.Sft;
using HybridSharp.Tasks;
using HybridSharp.Training;
using HybridSharp.Checkpoints;

namespace HybridSharp.Experiments.LiteCot;

/// <summary>Settings of <see cref="LiteCotMini.Run"/>.</summary>
public sealed record LiteCotMiniOptions
{
    public required string OutputDirectory { get; init; }
    /// <summary>A real OpenAI-compatible teacher; null = the in-process offline rewriter.</summary>
    public Uri? TeacherUrl { get; init; }
    public string? TeacherModel { get; init; }
    public string? TeacherApiKey { get; init; }
    /// <summary>The student: by default the quickstart-size hybrid with two attention layers (the fourth recorded run).</summary>
    public string Preset { get; init; } = "transxssm-tiny-2a";
    public ReasoningDataOptions Data { get; init; } = new() { TrainCount = 10000, EvalCount = 150, MinDifficulty = 1, MaxDifficulty = 3 };
    /// <summary>
    /// Optimizer steps per arm (equal-steps budget; both arms hold the same problems at the same batch, so also equal
    /// epochs: 4,530 steps = 3.70 epochs); ignored when <see cref="Epochs"/> is set. The default is the budget at which
    /// the recorded concise student matches the long one (BENCHMARKS.md); at 2,000 steps it has not yet learnt to read
    /// operands from the prompt and loses.
    /// </summary>
    public int Steps { get; init; } = 4530;
    /// <summary>
    /// Pretraining steps of the shared base model (16 × 256 tokens each; the corpus is set by
    /// <see cref="PretrainOnProblems"/>) before the two SFT arms; 0 = SFT from random initialisation.
    /// </summary>
    public int PretrainSteps { get; init; } = 2000;
    /// <summary>
    /// Half of the pretraining text is word problems followed by their bare step equations (another seed, evaluation
    /// questions excluded) — the reading a pretrained LLM brings to SFT; false = equation chains only (the second run).
    /// </summary>
    public bool PretrainOnProblems { get; init; } = true;
    /// <summary>Passes over each arm's data (equal-epochs budget); null = equal steps.</summary>
    public double? Epochs { get; init; }
    public int BatchSize { get; init; } = 8;
    public double LearningRate { get; init; } = 3e-3;
    public int MaxLength { get; init; } = 1024;
    /// <summary>Generated tokens at most per evaluation problem (greedy).</summary>
    public int EvalMaxTokens { get; init; } = 768;
    public int EvalBatchSize { get; init; } = 16;
    /// <summary>Model initialisation and SFT data-order seed.</summary>
    public long Seed { get; init; } = 7;

    public void Validate()
    {
        Data.Validate();
        if (Epochs is { } e && e <= 0) throw new ArgumentException("`LiteCotMiniOptions.Epochs` must be positive");
        if (Epochs is null && Steps < 1) throw new ArgumentException("`LiteCotMiniOptions.Steps` must be at least 1");
        if (PretrainSteps < 0) throw new ArgumentException("`LiteCotMiniOptions.PretrainSteps` must be ≥ 0");
        if (BatchSize < 1) throw new ArgumentException("`LiteCotMiniOptions.BatchSize` must be positive");
        if (LearningRate <= 0) throw new ArgumentException("`LiteCotMiniOptions.LearningRate` must be positive");
        if (MaxLength < 16) throw new ArgumentException("`LiteCotMiniOptions.MaxLength` must be at least 16");
        if (EvalMaxTokens < 1) throw new ArgumentException("`LiteCotMiniOptions.EvalMaxTokens` must be positive");
        if (Data.EvalCount < 1) throw new ArgumentException("`ReasoningDataOptions.EvalCount` must be at least 1");
        if (TeacherUrl is not null && string.IsNullOrWhiteSpace(TeacherModel)) throw new ArgumentException("`LiteCotMiniOptions.TeacherUrl` needs `LiteCotMiniOptions.TeacherModel`");
        if (TeacherUrl is { } u && u.Scheme is not ("http" or "https")) throw new ArgumentException($"`LiteCotMiniOptions.TeacherUrl`: '{u}' is not an http(s) URL");
        if (!Presets.Names.Contains(Preset)) throw new ArgumentException($"unknown `LiteCotMiniOptions.Preset` '{Preset}' (known: {string.Join(", ", Presets.Names)})");
    }
}

/// <summary>Training record of one arm.</summary>
public sealed record LiteCotArmTraining(string Arm, int Examples, int Steps, int BatchSize, double Epochs, long Tokens, double Seconds,
    double FinalLoss, double? ValidationLoss, double MeanAssistantChars);

/// <summary>Arithmetic pretraining of the shared base model (equation chains only).</summary>
public sealed record LiteCotPretraining(int Steps, int BatchSize, int SeqLen, long Tokens, double Seconds, double FinalLoss, double? ValidationLoss);

/// <summary>Evaluation of one arm at one difficulty (or "all").</summary>
public sealed record LiteCotArmEval(string Arm, string Group, int Problems, double Accuracy, double MeanTokens, double MedianTokens, double CapFraction);

/// <summary>Distillation summary.</summary>
public sealed record LiteCotDistillSummary(string Teacher, bool Offline, int Problems, int Accepted, int Rejected, int Failed, double Seconds,
    IReadOnlyList<LiteCotLengths> Lengths);

/// <summary>Training-target lengths of the accepted problems at one generator difficulty; <paramref name="Labels"/>: the teacher's DAP levels.</summary>
public sealed record LiteCotLengths(string Difficulty, int Problems, double LongChars, double ConciseChars, string Labels);

/// <summary>
/// The LiteCoT comparison in miniature (docs/litecot-mini.md): synthetic data, difficulty-aware rewriting of the long
/// traces through the distill pipeline, one base model fine-tuned twice (long vs concise), greedy evaluation by
/// difficulty, and one report. Each stage is skipped when its outputs exist, so a rerun resumes.
/// </summary>
public static class LiteCotMini
{
    public const string Long = "long", Concise = "concise";
    public const string OfflineTeacherModel = "offline-dap-rewriter";
    public const string ReportFile = "report.md", CsvFile = "report.csv";
    public const string Disclosure =
        "Teacher: a local offline rewriter (DapTeacherResponder with ArithmeticDapRewriter, served in-process on 127.0.0.1), " +
        "not an LLM. It deterministically turns each generator-written long trace into a difficulty-aware DAP answer " +
        "(one-line headers, the trace's step equations, \\boxed{}); no model judged or wrote anything.";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string DataDir(string root) => Path.Combine(root, "data");
    public static string DistillDir(string root) => Path.Combine(root, "distill");
    public static string BaseDir(string root) => Path.Combine(root, "base");
    public static string ArmDir(string root, string arm) => Path.Combine(root, arm);
    public static string EvalDir(string root, string arm) => Path.Combine(root, "eval", arm);
    public static string LongAcceptedFile(string root) => Path.Combine(root, "data", "sft_long_accepted.jsonl");

    public static string Run(LiteCotMiniOptions o, Action<string> log, CancellationToken ct = default)
    {
        o.Validate();
        var root = o.OutputDirectory;
        Directory.CreateDirectory(root);
        CheckSettings(o);

        // 1. data
        var data = DataDir(root);
        if (File.Exists(Path.Combine(data, ReasoningDataBuilder.ManifestFile))) log($"data: {data} exists, skipped");
        else
        {
            var s = ReasoningDataBuilder.Write(data, o.Data);
            log($"data: {s.Train} training problems (long CoT {s.MeanLongChars:F0} chars on average), {s.Eval} held-out");
        }

        // 2. distill
        var distill = RunDistill(o, log, ct);
        ct.ThrowIfCancellationRequested();

        // 3. base + two arms
        var baseDir = BaseDir(root);
        if (!ModelDirectory.IsModelDirectory(baseDir))
        {
            var cfg = Presets.Get(o.Preset);
            var tokenizer = TokenizerFactory.Create(cfg.TokenizerKind, null);
            using var model = new CausalLM(cfg, o.Seed);
            ModelDirectory.Save(model, tokenizer, baseDir);
            log($"base: {o.Preset}, seed {o.Seed}, {model.ParameterCount():N0} parameters");
        }
        var pretraining = Pretrain(o, log, ct);
        var conciseData = Path.Combine(DistillDir(root), "sft.jsonl");
        var training = new List<LiteCotArmTraining>
        {
            TrainArm(o, Long, LongAcceptedFile(root), log, ct),
            TrainArm(o, Concise, conciseData, log, ct),
        };

        // 4. evaluation
        var evals = new List<LiteCotArmEval>();
        foreach (var arm in new[] { Long, Concise }) evals.AddRange(Evaluate(o, arm, log, ct));

        // 5. report
        var report = WriteReport(o, distill, pretraining, training, evals);
        log($"report: {report}");
        return report;
    }

    /// <summary>
    /// Finished stages are reused on a rerun, so a run folder must keep one set of settings: the first run records them
    /// in <c>litecot_settings.json</c> and a rerun with different ones is refused.
    /// </summary>
    private static void CheckSettings(LiteCotMiniOptions o)
    {
        var path = Path.Combine(o.OutputDirectory, "litecot_settings.json");
        var text = JsonSerializer.Serialize(o with { OutputDirectory = "", TeacherApiKey = null }, Json) + "\n";
        if (File.Exists(path))
        {
            if (File.ReadAllText(path) != text)
                throw new ArgumentException($"{o.OutputDirectory} holds a run with other settings (see {path}); rerun with the same settings to resume, or choose a new `LiteCotMiniOptions.OutputDirectory`");
            return;
        }
        AtomicFile.WriteAllText(path, text);
    }

    // ---- distill --------------------------------------------------------------------------------------------------

    private static LiteCotDistillSummary RunDistill(LiteCotMiniOptions o, Action<string> log, CancellationToken ct)
    {
        var root = o.OutputDirectory;
        var dir = DistillDir(root);
        var summaryPath = Path.Combine(dir, "litecot_distill.json");
        if (File.Exists(summaryPath) && File.Exists(Path.Combine(dir, "sft.jsonl")) && File.Exists(LongAcceptedFile(root)))
        {
            log($"distill: {dir} exists, skipped");
            return JsonSerializer.Deserialize<LiteCotDistillSummary>(File.ReadAllText(summaryPath))!;
        }
        Directory.CreateDirectory(dir);
        var problems = ProblemReader.Read([Path.Combine(DataDir(root), ReasoningDataBuilder.DistillProblemsFile)],
            new ProblemFields { Problem = "problem", Answer = "answer", Id = "id", LongCot = "long_cot", Domain = null });
        var options = new DistillOptions { Mode = DistillMode.TwoCall, UseInputLongCot = true, Dedup = null, Concurrency = 8 };
        bool offline = o.TeacherUrl is null;
        ScriptedTeacherServer? server = null;
        try
        {
            if (offline) server = ScriptedTeacherServer.StartAsync(ArithmeticDapRewriter.Create(), new ScriptedTeacherOptions { Model = OfflineTeacherModel }, ct)
                .GetAwaiter().GetResult();
            var url = server?.BaseUrl ?? o.TeacherUrl!;
            var model = offline ? OfflineTeacherModel : o.TeacherModel!;
            log(offline
                ? $"distill: two-call rewrite of {problems.Count} long traces by the local offline rewriter at {url} (not an LLM)"
                : $"distill: two-call rewrite of {problems.Count} long traces by {model} at {url}");
            using var store = new DistillStore(Path.Combine(dir, "distill.db"));
            using var client = new TeacherClient(new TeacherClientOptions { BaseUrls = [url], Model = model, ApiKey = offline ? null : o.TeacherApiKey });
            var pipeline = new DistillPipeline(client, store, options);
            var clock = Stopwatch.StartNew();
            var progress = pipeline.RunAsync(problems, null, ct).GetAwaiter().GetResult();
            if (progress.Cancelled) throw new OperationCanceledException("distillation interrupted; rerun to continue");
            var rows = store.Rows(pipeline.Fingerprint(problems)).Select(DistillRow.FromJson).ToList();
            var export = DistillExporter.Export(rows, dir, new ExportOptions { Parquet = false });
            if (export.Rows == 0) throw new InvalidOperationException($"the teacher's rewrites were all rejected ({string.Join(", ", progress.Reasons.Select(kv => $"{kv.Key} {kv.Value}"))}); see {dir}/rejected.jsonl");

            // The long arm trains on the same problems as the concise arm.
            var accepted = rows.Where(r => r.Status == DistillRow.Accepted).Select(r => r.Problem).ToHashSet(StringComparer.Ordinal);
            var kept = File.ReadLines(Path.Combine(DataDir(root), ReasoningDataBuilder.LongSftFile))
                .Where(line => ChatDataReader.Parse(JsonDocument.Parse(line).RootElement, "sft_long.jsonl") is var m && m.Messages.Any(x => x.Role == "user" && x.Content is { } c && accepted.Contains(c)));
            AtomicFile.WriteAllText(LongAcceptedFile(root), string.Concat(kept.Select(l => l + "\n")));

            var stats = DistillStatistics.Compute(rows, TokenizerFactory.Create("byte", null), "byte", null, null);
            DistillReport.Write(stats, dir, run: progress);
            var difficulty = ReasoningProblemReader.Read(Path.Combine(DataDir(root), ReasoningDataBuilder.DistillProblemsFile))
                .ToDictionary(p => p.Id, p => p.Difficulty ?? ReasoningMetrics.NoDifficulty, StringComparer.Ordinal);
            var lengths = rows.Where(r => r.Status == DistillRow.Accepted)
                .GroupBy(r => difficulty.GetValueOrDefault(r.Id, ReasoningMetrics.NoDifficulty))
                .OrderBy(g => int.TryParse(g.Key, NumberStyles.Integer, Inv, out var n) ? n : int.MaxValue).ThenBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new LiteCotLengths(g.Key, g.Count(), g.Average(r => r.LongCot.Length), g.Average(r => r.Content.Length),
                    string.Join(", ", g.GroupBy(r => r.Difficulty).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key} {l.Count()}"))))
                .ToList();
            var summary = new LiteCotDistillSummary(offline ? $"{OfflineTeacherModel} (local, offline, not an LLM)" : model, offline, problems.Count,
                rows.Count(r => r.Status == DistillRow.Accepted),
                rows.Count(r => r.Status == DistillRow.Rejected), rows.Count(r => r.Status == DistillRow.Failed), clock.Elapsed.TotalSeconds, lengths);
            AtomicFile.WriteAllText(summaryPath, JsonSerializer.Serialize(summary, Json) + "\n");
            log($"distill: accepted {summary.Accepted} of {summary.Problems} in {summary.Seconds:F1} s; wrote {dir}/sft.jsonl");
            return summary;
        }
        finally
        {
            server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    // ---- arithmetic pretraining of the base model -----------------------------------------------------------------

    public static string PretrainDataDir(string root) => Path.Combine(root, "pretrain-data");
    private const int PretrainBatch = 16, PretrainSeqLen = 256;
    /// <summary>Generator seed offset of the pretraining chains (distinct from the SFT and evaluation problem seeds).</summary>
    private const int PretrainSeedOffset = 1_000_003;

    /// <summary>
    /// Gives the shared base model basic arithmetic (equation chains only: no word problems, no solution style), as the
    /// LiteCoT students were pretrained LLMs before SFT. Skipped when <see cref="LiteCotMiniOptions.PretrainSteps"/> is 0
    /// or already done; resumable from the base directory's checkpoint.
    /// </summary>
    private static LiteCotPretraining? Pretrain(LiteCotMiniOptions o, Action<string> log, CancellationToken ct)
    {
        if (o.PretrainSteps == 0) return null;
        var root = o.OutputDirectory;
        var baseDir = BaseDir(root);
        var donePath = Path.Combine(baseDir, "litecot_pretraining.json");
        if (File.Exists(donePath))
        {
            log($"pretrain: {baseDir} already pretrained, skipped");
            return JsonSerializer.Deserialize<LiteCotPretraining>(File.ReadAllText(donePath))!;
        }
        var dataDir = PretrainDataDir(root);
        var (model, tokenizer) = ModelDirectory.Load(baseDir);
        using var _ = model;
        if (!File.Exists(Path.Combine(dataDir, DatasetManifest.FileName)))
        {
            // ≈ 1.3 passes' worth of distinct text for the requested steps (a document of 4 chains is ≈ 90 tokens, a
            // problem with its equations ≈ 200); with problems, each kind gets half of the tokens.
            long budget = (long)o.PretrainSteps * PretrainBatch * PretrainSeqLen;
            int share = o.PretrainOnProblems ? 2 : 1;
            int documents = Math.Max(1000, (int)Math.Min(2_000_000, budget / share / 90));
            var builder = new CorpusBuilder(tokenizer, new CorpusBuilderOptions { ValidationFraction = 0.02, Seed = o.Data.Seed })
                .AddDocuments(ArithmeticCorpus.EquationDocuments(tokenizer, documents, o.Data.Seed + PretrainSeedOffset, o.Data.MinDifficulty, o.Data.MaxDifficulty), "equations");
            int problems = 0;
            if (o.PretrainOnProblems)
            {
                problems = Math.Max(500, (int)Math.Min(1_000_000, budget / share / 200));
                var held = EvalQuestions(DataDir(root));
                builder.AddDocuments(ArithmeticCorpus.ProblemEquationDocuments(tokenizer, problems, o.Data.Seed + 2 * PretrainSeedOffset,
                    o.Data.MinDifficulty, o.Data.MaxDifficulty, held), "problems");
            }
            builder.Build(dataDir);
            log($"pretrain: {documents:N0} documents of equation chains{(problems > 0 ? $" and {problems:N0} word problems with their equations (evaluation questions excluded)" : "")} in {dataDir}");
        }
        using var dataset = TokenDataset.Open(dataDir);
        var options = new TrainerOptions
        {
            Steps = o.PretrainSteps, BatchSize = PretrainBatch, SeqLen = PretrainSeqLen, LearningRate = o.LearningRate,
            MinLearningRate = o.LearningRate * 0.1, WarmupSteps = Math.Max(1, o.PretrainSteps / 20), Schedule = "cosine",
            EvalEvery = Math.Max(50, o.PretrainSteps / 4), EvalBatches = 8, CheckpointEvery = Math.Max(50, o.PretrainSteps / 5), Seed = o.Seed,
        };
        options.Validate();
        bool resume = Trainer.HasCheckpoint(baseDir);
        var clock = Stopwatch.StartNew();
        int every = Math.Max(1, o.PretrainSteps / 10);
        var result = new Trainer(model, dataset, options, baseDir).Run(resume, ct, p =>
        {
            if (p.Step % every == 0 || p.Step == p.TotalSteps)
                log($"pretrain step {p.Step}/{p.TotalSteps} loss {p.Loss:F3}{(p.EvalLoss is { } v ? $" val {v:F3}" : "")} {p.TokensPerSecond:N0} tok/s");
        }, log);
        if (result.Interrupted || !result.Completed) throw new OperationCanceledException($"pretraining stopped at step {result.FinalStep}; rerun to resume");
        ModelDirectory.Save(model, tokenizer, baseDir);
        var record = new LiteCotPretraining(o.PretrainSteps, PretrainBatch, PretrainSeqLen, result.Tokens, clock.Elapsed.TotalSeconds, result.LastLoss, result.LastEvalLoss);
        AtomicFile.WriteAllText(donePath, JsonSerializer.Serialize(record, Json) + "\n");
        return record;
    }

    /// <summary>The question texts of the held-out evaluation problems (never to appear in any training text).</summary>
    private static HashSet<string> EvalQuestions(string dataDir) =>
        ReasoningProblemReader.Read(Path.Combine(dataDir, ReasoningDataBuilder.EvalFile)).Select(p => p.Problem).ToHashSet(StringComparer.Ordinal);

    // ---- SFT ------------------------------------------------------------------------------------------------------

    private static LiteCotArmTraining TrainArm(LiteCotMiniOptions o, string arm, string dataPath, Action<string> log, CancellationToken ct)
    {
        var root = o.OutputDirectory;
        var outDir = ArmDir(root, arm);
        var donePath = Path.Combine(outDir, "litecot_training.json");
        if (File.Exists(donePath))
        {
            log($"sft {arm}: {outDir} exists, skipped");
            return JsonSerializer.Deserialize<LiteCotArmTraining>(File.ReadAllText(donePath))!;
        }
        var sftOptions = new SftOptions
        {
            ModelDirectory = BaseDir(root), DataPath = dataPath, OutputDirectory = outDir, MaxHoldOut = 200,
            MaxLength = o.MaxLength, Epochs = o.Epochs ?? 0, Steps = o.Epochs is null ? o.Steps : 0, BatchSize = o.BatchSize,
            LearningRate = o.LearningRate, EvalEvery = 100, EvalBatches = 8, CheckpointEvery = 100, Seed = o.Seed,
            Resume = Trainer.HasCheckpoint(outDir),
        };
        using var recipe = new SftRecipe(sftOptions);
        var dataset = recipe.Dataset;
        if (dataset.Train.Count == 0) throw new InvalidOperationException($"sft {arm}: no training examples in {dataPath}");
        int steps = recipe.TrainerOptions.Steps;
        double meanChars = ChatDataReader.Read(dataPath).Average(c => c.Messages.Where(m => m.Role == "assistant").Sum(m => m.Content?.Length ?? 0));
        log($"sft {arm}: {dataset.Train.Count} examples (assistant {meanChars:F0} chars on average), {steps} steps × {o.BatchSize}" +
            (dataset.Truncated > 0 ? $", {dataset.Truncated} cut at {o.MaxLength} tokens" : ""));
        var clock = Stopwatch.StartNew();
        int every = Math.Max(1, steps / 10);
        var result = recipe.Train(ct, p =>
        {
            if (p.Step % every == 0 || p.Step == p.TotalSteps)
                log($"sft {arm} step {p.Step}/{p.TotalSteps} loss {p.Loss:F3}{(p.EvalLoss is { } v ? $" val {v:F3}" : "")} {p.TokensPerSecond:N0} tok/s");
        }, log);
        if (result.Interrupted || !result.Completed) throw new OperationCanceledException($"sft {arm} stopped at step {result.FinalStep}; rerun to resume");
        var record = new LiteCotArmTraining(arm, dataset.Train.Count, steps, o.BatchSize, (double)steps * o.BatchSize / dataset.Train.Count,
            result.Tokens, clock.Elapsed.TotalSeconds, result.LastLoss, result.LastEvalLoss, meanChars);
        AtomicFile.WriteAllText(donePath, JsonSerializer.Serialize(record, Json) + "\n");
        return record;
    }

    // ---- evaluation -----------------------------------------------------------------------------------------------

    private static IReadOnlyList<LiteCotArmEval> Evaluate(LiteCotMiniOptions o, string arm, Action<string> log, CancellationToken ct)
    {
        var dir = EvalDir(o.OutputDirectory, arm);
        var donePath = Path.Combine(dir, "litecot_eval.json");
        if (File.Exists(donePath))
        {
            log($"eval {arm}: {dir} exists, skipped");
            return JsonSerializer.Deserialize<List<LiteCotArmEval>>(File.ReadAllText(donePath))!;
        }
        var modelDir = ArmDir(o.OutputDirectory, arm);
        var problems = ReasoningProblemReader.Read(Path.Combine(DataDir(o.OutputDirectory), ReasoningDataBuilder.EvalFile));
        var (model, tokenizer) = ModelDirectory.Load(modelDir);
        using var _ = model;
        var options = new ReasoningEvalOptions
        {
            BatchSize = o.EvalBatchSize,
            Generation = new GenerationOptions { Sampling = SamplingOptions.Greedy, MaxNewTokens = o.EvalMaxTokens },
        };
        options.Validate();
        var chat = ChatTemplate.For(tokenizer, modelDir);
        var clock = Stopwatch.StartNew();
        var results = new ReasoningEvaluator(new TextGenerator(model, tokenizer), chat, options).Run(problems, null, ct);
        if (results.Count < problems.Count) throw new OperationCanceledException($"eval {arm} interrupted; rerun to evaluate again");
        var settings = new List<KeyValuePair<string, string>>
        {
            new("model", Path.GetFullPath(modelDir)), new("decoding", "greedy"), new("max tokens", o.EvalMaxTokens.ToString(Inv)),
            new("problems", problems.Count.ToString(Inv)), new("wall time", $"{clock.Elapsed.TotalSeconds:F1} s"),
        };
        var (overall, byDifficulty) = ReasoningReport.Write(dir, results, settings);
        var rows = byDifficulty.Append(overall).Select(s => new LiteCotArmEval(arm, s.Group, s.Problems, s.Accuracy, s.MeanTokens, s.MedianTokens, s.CapFraction)).ToList();
        AtomicFile.WriteAllText(donePath, JsonSerializer.Serialize(rows, Json) + "\n");
        log($"eval {arm}: accuracy {overall.Accuracy:P1}, mean tokens {overall.MeanTokens:F1}, hit cap {overall.CapFraction:P1} ({clock.Elapsed.TotalSeconds:F0} s)");
        return rows;
    }

    // ---- report ---------------------------------------------------------------------------------------------------

    /// <summary>The target of the comparison: concise accuracy ≥ long accuracy with at most a third of the tokens.</summary>
    public static bool TargetMet(LiteCotArmEval longArm, LiteCotArmEval concise) =>
        concise.Accuracy >= longArm.Accuracy && longArm.MeanTokens > 0 && concise.MeanTokens <= longArm.MeanTokens / 3;

    private static string F(double v, int d = 1) => v.ToString("F" + d, Inv);

    private static string WriteReport(LiteCotMiniOptions o, LiteCotDistillSummary distill, LiteCotPretraining? pretraining, IReadOnlyList<LiteCotArmTraining> training, IReadOnlyList<LiteCotArmEval> evals)
    {
        var root = o.OutputDirectory;
        var groups = evals.Where(e => e.Arm == Long).Select(e => e.Group).ToList();
        var md = new StringBuilder();
        md.Append("# LiteCoT in miniature: long vs concise chain-of-thought SFT\n\n");
        md.Append(distill.Offline ? $"**{Disclosure}**\n\n" : $"Teacher: {distill.Teacher} at {o.TeacherUrl} (two-call rewrite of the generator's long traces).\n\n");
        md.Append($"Data: synthetic arithmetic word problems, difficulty {o.Data.MinDifficulty}–{o.Data.MaxDifficulty} (number of operations), " +
            $"{o.Data.TrainCount} training problems, {o.Data.EvalCount} held-out, seed {o.Data.Seed}. ");
        md.Append($"Distillation: {distill.Accepted} of {distill.Problems} rewrites accepted ({distill.Rejected} rejected, {distill.Failed} failed) in {F(distill.Seconds)} s; " +
            "both arms train on the accepted problems only.\n\n");
        md.Append($"Model: {o.Preset}, one initialisation (seed {o.Seed}) fine-tuned twice; loss on assistant tokens, batch {o.BatchSize}, lr {o.LearningRate.ToString(Inv)} cosine, max length {o.MaxLength}. ");
        md.Append(pretraining is { } pt
            ? (o.PretrainOnProblems
                ? "Base model: pretrained on arithmetic and reading (half equation chains \"a op b = c\", half word problems each followed by its " +
                  "bare step equations; other generator seeds, evaluation questions excluded; no prose, no answer box, no solution style) "
                : "Base model: pretrained on arithmetic alone (equation chains \"a op b = c\" from the generator with another seed; no word problems, " +
                  "no solution style) ") +
              $"for {pt.Steps} steps × {pt.BatchSize} × {pt.SeqLen} tokens ({pt.Tokens:N0} tokens, final loss {F(pt.FinalLoss, 3)}), " +
              "so the SFT arms compare reasoning formats rather than arithmetic (and reading) learnt from scratch.\n\n"
            : "Base model: random initialisation (no pretraining).\n\n");
        bool sameExamples = training.Select(t => t.Examples).Distinct().Count() == 1;
        md.Append(sameExamples
            ? $"Budget: equal steps and equal epochs at once — both arms train on the same {training[0].Examples} problems with the same batch size, " +
              $"so {training[0].Steps} steps are {F(training[0].Epochs, 2)} epochs for each; only the tokens seen differ (the concise targets are shorter).\n\n"
            : o.Epochs is { } ep ? $"Budget: equal epochs ({ep.ToString(Inv)} per arm), so the arms take different numbers of steps and tokens.\n\n"
            : $"Budget: equal steps ({o.Steps} per arm); the epochs column shows how many passes over its data each arm saw.\n\n");

        md.Append("## Training targets (accepted problems)\n\n| difficulty | problems | long CoT chars | concise chars | ratio | teacher's DAP level |\n|---|---|---|---|---|---|\n");
        foreach (var l in distill.Lengths)
            md.Append($"| {l.Difficulty} | {l.Problems} | {F(l.LongChars, 0)} | {F(l.ConciseChars, 0)} | {F(l.ConciseChars / Math.Max(1, l.LongChars), 2)} | {l.Labels} |\n");
        md.Append("\n## Training\n\n| arm | examples | mean assistant chars | steps | epochs | tokens seen | time (s) | tokens/s | final loss | validation loss |\n|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var t in training)
            md.Append($"| {t.Arm} | {t.Examples} | {F(t.MeanAssistantChars, 0)} | {t.Steps} | {F(t.Epochs, 2)} | {t.Tokens:N0} | {F(t.Seconds)} | {F(t.Tokens / Math.Max(1e-9, t.Seconds), 0)} | {F(t.FinalLoss, 3)} | {(t.ValidationLoss is { } v ? F(v, 3) : "–")} |\n");

        md.Append($"\n## Evaluation (greedy, at most {o.EvalMaxTokens} new tokens)\n\n");
        md.Append("| difficulty | problems | long accuracy | concise accuracy | long mean tokens | concise mean tokens | token ratio (concise / long) | long hit cap | concise hit cap | target met |\n|---|---|---|---|---|---|---|---|---|---|\n");
        var csv = new StringBuilder("difficulty,problems,long_accuracy,concise_accuracy,long_mean_tokens,concise_mean_tokens,token_ratio,long_cap_fraction,concise_cap_fraction,target_met\n");
        foreach (var g in groups)
        {
            var l = evals.First(e => e.Arm == Long && e.Group == g);
            var c = evals.FirstOrDefault(e => e.Arm == Concise && e.Group == g);
            if (c is null) continue;
            double ratio = l.MeanTokens > 0 ? c.MeanTokens / l.MeanTokens : double.NaN;
            bool met = TargetMet(l, c);
            md.Append($"| {g} | {l.Problems} | {l.Accuracy:P1} | {c.Accuracy:P1} | {F(l.MeanTokens)} | {F(c.MeanTokens)} | {F(ratio, 2)} | {l.CapFraction:P0} | {c.CapFraction:P0} | {(met ? "yes" : "no")} |\n");
            csv.Append(string.Create(Inv, $"{g},{l.Problems},{l.Accuracy:F4},{c.Accuracy:F4},{l.MeanTokens:F2},{c.MeanTokens:F2},{ratio:F4},{l.CapFraction:F4},{c.CapFraction:F4},{(met ? "yes" : "no")}\n"));
        }
        var la = evals.First(e => e.Arm == Long && e.Group == ReasoningMetrics.AllGroup);
        var ca = evals.First(e => e.Arm == Concise && e.Group == ReasoningMetrics.AllGroup);
        md.Append($"\nTarget (concise accuracy ≥ long accuracy with at most a third of the tokens), over all problems: **{(TargetMet(la, ca) ? "met" : "not met")}** " +
            $"(accuracy {la.Accuracy:P1} long vs {ca.Accuracy:P1} concise; tokens {F(la.MeanTokens)} vs {F(ca.MeanTokens)}).\n\n");
        int smallest = evals.Where(e => e.Arm == Long).Min(e => e.Problems);
        md.Append("Caveats: tiny byte-level models trained from scratch on a few thousand synthetic problems; accuracy near chance is no evidence " +
            $"either way, and with {smallest} problems in the smallest group one problem moves its accuracy by {1.0 / Math.Max(1, smallest):P1}, so a per-difficulty \"yes\" can be one lucky answer. With a local rewriter the concise set is a rule-based rewrite, so this measures the effect of the training target's length, not of a teacher's judgment.\n\n");
        md.Append($"Per-arm details: `eval/{Long}/report.md`, `eval/{Concise}/report.md`; data and rewrites: `data/`, `distill/` (report.md, full.jsonl, rejected.jsonl).\n");
        var path = Path.Combine(root, ReportFile);
        AtomicFile.WriteAllText(path, md.ToString());
        AtomicFile.WriteAllText(Path.Combine(root, CsvFile), csv.ToString());
        return path;
    }
}
