using HybridSharp.Runtime;
using System.Diagnostics;
using System.Runtime.InteropServices;
using HybridSharp.Models;
using HybridSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.Eval.Mqar;

/// <summary>What a progress report is about.</summary>
public enum MqarEvent
{
    /// <summary>Data of a (T, K) task is being generated.</summary>
    Generating,
    /// <summary>A cell's result was already in the results folder.</summary>
    CellSkipped,
    CellStarted,
    /// <summary>One optimizer step finished (<see cref="MqarProgress.Loss"/> is its loss).</summary>
    Step,
    /// <summary>One epoch and its test evaluation finished (<see cref="MqarProgress.Accuracy"/>).</summary>
    Epoch,
    CellFinished,
}

/// <summary>A progress report of <see cref="MqarRunner"/>.</summary>
public sealed record MqarProgress
{
    public MqarEvent Event { get; init; }
    /// <summary>0-based index of the cell in the sweep, and the number of cells.</summary>
    public int CellIndex { get; init; }
    public int CellCount { get; init; }
    public MqarCell? Cell { get; init; }
    /// <summary>1-based epoch (0 before the first), out of <see cref="Epochs"/>.</summary>
    public int Epoch { get; init; }
    public int Epochs { get; init; }
    /// <summary>Optimizer steps done in this cell, out of <see cref="TotalSteps"/> (the most it can take).</summary>
    public int Step { get; init; }
    public int TotalSteps { get; init; }
    public double? Loss { get; init; }
    public double? Accuracy { get; init; }
    public MqarCellResult? Result { get; init; }
    public string? Message { get; init; }
}

/// <summary>
/// The grid of an MQAR sweep. Cells are ordered (T, K) outermost — one task's data is generated once and shared by
/// every model and learning rate (same data and order for all) — then mixer, d_model, LR.
/// (T, K) pairs violating 4·K ≤ T, or with T ≥ V, are left out.
/// </summary>
public sealed record MqarSweep(
    IReadOnlyList<string> Mixers, IReadOnlyList<int> DModels, IReadOnlyList<int> SeqLens, IReadOnlyList<int> Pairs,
    IReadOnlyList<double> LearningRates, bool Mlp = false)
{
    /// <summary>Zoology Figure 2's learning rates, logspace(−4, −2, 4) = 1e-4, 4.6e-4, 2.2e-3, 1e-2.</summary>
    public static IReadOnlyList<double> Figure2LearningRates { get; } = [1e-4, Math.Pow(10, -4 + 2.0 / 3), Math.Pow(10, -4 + 4.0 / 3), 1e-2];

    /// <summary>The (T, K) tasks of the grid that satisfy the generator's preconditions.</summary>
    public IReadOnlyList<(int SeqLen, int NumKvPairs)> Tasks(int vocabSize) =>
        SeqLens.Distinct().Order().SelectMany(t => Pairs.Distinct().Order().Where(k => 4 * k <= t && t % 2 == 0 && vocabSize > t).Select(k => (t, k))).ToList();

    /// <summary>
    /// The cells to train: one per (T, K) task × mixer × d_model × LR, or with <paramref name="mixture"/> one per T
    /// (K = <see cref="MqarCell.MixedPairs"/>: trained on every K of the grid at that T) × mixer × d_model × LR.
    /// </summary>
    public IReadOnlyList<MqarCell> Cells(int vocabSize, bool mixture = false)
    {
        var tasks = mixture
            ? Tasks(vocabSize).Select(t => t.SeqLen).Distinct().Select(t => (SeqLen: t, NumKvPairs: MqarCell.MixedPairs)).ToList()
            : Tasks(vocabSize);
        return tasks.SelectMany(task => Mixers.Distinct().SelectMany(m => DModels.Distinct().Order().SelectMany(d =>
            LearningRates.Distinct().Order().Select(lr => new MqarCell(m, d, Mlp, task.SeqLen, task.NumKvPairs, lr))))).ToList();
    }

    /// <summary>The K values of the grid that are valid at length <paramref name="seqLen"/> (a mixture cell's segments).</summary>
    public IReadOnlyList<int> PairsAt(int seqLen, int vocabSize) =>
        Tasks(vocabSize).Where(t => t.SeqLen == seqLen).Select(t => t.NumKvPairs).ToList();

    public void Validate()
    {
        if (Mixers.Count == 0 || DModels.Count == 0 || SeqLens.Count == 0 || Pairs.Count == 0 || LearningRates.Count == 0)
            throw new ArgumentException("MQAR sweep: mixers, d_models, sequence lengths, pairs and learning rates must each be non-empty");
        foreach (var m in Mixers)
            if (!MqarModels.IsKnown(m)) throw new ArgumentException($"unknown mixer '{m}' (known: {string.Join(", ", MqarModels.Mixers)}, dma-w<N>)");
        foreach (var d in DModels)
            if (d <= 0 || d % 2 != 0) throw new ArgumentException($"d_model must be a positive even number (got {d})");
        foreach (var lr in LearningRates)
            if (!(lr > 0) || double.IsInfinity(lr)) throw new ArgumentException($"learning rates must be positive (got {lr})");
    }
}

/// <summary>The outcome of <see cref="MqarRunner.RunSweep"/>.</summary>
public sealed record MqarSweepOutcome(IReadOnlyList<MqarCellResult> Results, int Trained, int Skipped, bool Interrupted, MqarReportFiles? Files);

/// <summary>
/// Trains and evaluates MQAR cells: AdamW (weight decay 0.1 under the library's rule, <see cref="WeightDecayGroups"/>; default betas, no
/// clipping), cosine annealing from the cell's LR to 0 over the protocol's epochs, stepped once per epoch, no warmup;
/// batches in the data's fixed order; loss = cross-entropy on the labelled positions only — hidden states are gathered
/// there before the LM head; test accuracy after every epoch, early stop once it exceeds 0.99.
/// Results go to <c>results.jsonl</c> in the results folder as each cell finishes (and each cell's curves to
/// <c>tensorboard/</c> there), so an interrupted sweep resumes
/// where it stopped; the CSV, markdown and PNG summaries are rewritten after each cell.
/// </summary>
public sealed class MqarRunner
{
    public MqarResultStore Store { get; }
    public string ResultsDir { get; }

    public MqarRunner(string resultsDir)
    {
        ResultsDir = resultsDir;
        Store = new MqarResultStore(resultsDir);
    }

    /// <summary>
    /// Runs every cell of <paramref name="sweep"/> not yet in the results folder, then writes the summaries (only
    /// results with this protocol). Cancelling stops after the current step; the unfinished cell is not stored.
    /// </summary>
    public MqarSweepOutcome RunSweep(MqarSweep sweep, MqarProtocol protocol, Action<MqarProgress>? progress = null, CancellationToken ct = default,
        WorkShard? shard = null)
    {
        sweep.Validate();
        protocol.Validate();
        var cells = ShardCells(sweep, protocol, shard);
        if (cells.Count == 0 && shard is null) throw new ArgumentException("MQAR sweep: no (T, K) pair satisfies 4·K ≤ T (and T < V)");
        int trained = 0, skipped = 0;
        bool interrupted = false;
        IReadOnlyList<MqarData>? train = null, test = null;
        (int SeqLen, int NumKvPairs) loaded = (-1, -1);
        var results = new List<MqarCellResult>();
        MqarReportFiles? files = null;
        for (int i = 0; i < cells.Count; i++)
        {
            var cell = cells[i];
            if (Store.TryGet(MqarResultStore.KeyOf(cell, protocol), out var done))
            {
                skipped++;
                results.Add(done);
                progress?.Invoke(new MqarProgress { Event = MqarEvent.CellSkipped, CellIndex = i, CellCount = cells.Count, Cell = cell, Result = done, Accuracy = done.Accuracy });
                continue;
            }
            if (ct.IsCancellationRequested) { interrupted = true; break; }
            if (train is null || loaded != (cell.SeqLen, cell.NumKvPairs))
            {
                var pairs = cell.IsMixture ? sweep.PairsAt(cell.SeqLen, protocol.VocabSize) : [cell.NumKvPairs];
                progress?.Invoke(new MqarProgress { Event = MqarEvent.Generating, CellIndex = i, CellCount = cells.Count, Cell = cell,
                    Message = $"generating T {cell.SeqLen}, K {string.Join("/", pairs)}: {protocol.TrainExamplesFor(cell.SeqLen):N0} train examples{(pairs.Count > 1 ? " split over the K values" : "")}, {protocol.TestExamples:N0} test examples{(pairs.Count > 1 ? " per K" : "")}" });
                train = test = null;
                (train, test) = GenerateMixture(protocol, cell.SeqLen, pairs);
                loaded = (cell.SeqLen, cell.NumKvPairs);
            }
            MqarCellResult result;
            // Each cell's curves also go to TensorBoard: <results>/tensorboard/<cell tag>/ (step loss, epoch loss and accuracy).
            var board = torch.utils.tensorboard.SummaryWriter(Path.Combine(ResultsDir, Training.MetricsLog.TensorBoardDirName, cell.Tag + "-" + protocol.Tag), createRunName: false);
            void Observe(MqarProgress p)
            {
                if (p.Event == MqarEvent.Step && p.Loss is { } l && double.IsFinite(l)) board.add_scalar("train/loss", (float)l, p.Step);
                if (p.Event == MqarEvent.Epoch)
                {
                    if (p.Loss is { } el && double.IsFinite(el)) board.add_scalar("epoch/train_loss", (float)el, p.Epoch);
                    if (p.Accuracy is { } acc) board.add_scalar("epoch/test_accuracy", (float)acc, p.Epoch);
                }
                progress?.Invoke(p);
            }
            try { result = TrainCell(cell, protocol, train, test!, Observe, ct, i, cells.Count); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { interrupted = true; break; }
            Store.Append(result);
            results.Add(result);
            trained++;
            files = WriteSummaries(protocol);
        }
        if (files is null && Store.Count > 0) files = WriteSummaries(protocol);
        return new MqarSweepOutcome(results, trained, skipped, interrupted, files);
    }

    /// <summary>The grid's cells in order, or only those of <paramref name="shard"/> (by the cell's result key).</summary>
    public static IReadOnlyList<MqarCell> ShardCells(MqarSweep sweep, MqarProtocol protocol, WorkShard? shard)
    {
        var cells = sweep.Cells(protocol.VocabSize, protocol.Mixture);
        return shard is null ? cells : [.. cells.Where(c => shard.Owns(MqarResultStore.KeyOf(c, protocol)))];
    }

    /// <summary>
    /// Rewrites <c>mqar.csv</c>, <c>mqar.md</c> and <c>mqar.png</c> from the stored results of <paramref name="protocol"/>,
    /// with every seed it was run with.
    /// </summary>
    public MqarReportFiles WriteSummaries(MqarProtocol protocol) =>
        MqarReport.WriteAll(ResultsDir, Store.All.Where(r => MqarProtocol.WithoutSeed(r.Protocol) == MqarProtocol.WithoutSeed(protocol.Tag)).ToList(), protocol);

    /// <summary>Train and test segments of a (T, K) task under <paramref name="protocol"/> (seeds from the protocol seed).</summary>
    public static (MqarData Train, MqarData Test) GenerateTask(MqarProtocol protocol, int seqLen, int numKvPairs)
    {
        var (train, test) = GenerateMixture(protocol, seqLen, [numKvPairs]);
        return (train[0], test[0]);
    }

    /// <summary>
    /// The training and test segments of a mixture cell at length <paramref name="seqLen"/>: one training segment per K
    /// with ⌈TrainExamplesFor(T) / #K⌉ examples, one test segment per K with TestExamples; each segment has the seeds its
    /// (T, K) task has on its own, so a mixture's K slice tests on exactly the per-(T, K) test set (one K = that task).
    /// </summary>
    public static (IReadOnlyList<MqarData> Train, IReadOnlyList<MqarData> Test) GenerateMixture(MqarProtocol protocol, int seqLen, IReadOnlyList<int> pairs)
    {
        if (pairs.Count == 0) throw new ArgumentException($"MQAR: no K is valid at T {seqLen}");
        int perSegment = (protocol.TrainExamplesFor(seqLen) + pairs.Count - 1) / pairs.Count;
        var train = new List<MqarData>();
        var test = new List<MqarData>();
        foreach (int k in pairs)
        {
            var spec = protocol.SpecFor(seqLen, k);
            train.Add(MqarGenerator.Generate(spec, perSegment, MqarGenerator.TrainSeed(protocol.Seed, seqLen, k)));
            test.Add(MqarGenerator.Generate(spec, protocol.TestExamples, MqarGenerator.TestSeed(protocol.Seed, seqLen, k)));
        }
        return (train, test);
    }

    /// <summary>
    /// The batches of one epoch over several segments: each segment cut into batches of <paramref name="batchSize"/> in
    /// order, then taken in turn (batch 0 of every segment, batch 1 of every segment, …) so that one epoch sees every K
    /// from its start; a batch never mixes segments. The order is fixed (no shuffling).
    /// </summary>
    public static IReadOnlyList<(int Segment, int Start, int Count)> BatchPlan(IReadOnlyList<int> segmentSizes, int batchSize)
    {
        if (batchSize <= 0) throw new ArgumentException($"batch size must be positive (got {batchSize})");
        var plan = new List<(int, int, int)>();
        int rounds = segmentSizes.Count == 0 ? 0 : segmentSizes.Max(n => (n + batchSize - 1) / batchSize);
        for (int r = 0; r < rounds; r++)
            for (int s = 0; s < segmentSizes.Count; s++)
            {
                int start = r * batchSize;
                if (start < segmentSizes[s]) plan.Add((s, start, Math.Min(batchSize, segmentSizes[s] - start)));
            }
        return plan;
    }

    /// <summary>
    /// Trains one cell from scratch on <paramref name="train"/> and evaluates it on <paramref name="test"/> (which may
    /// differ in T and K: accuracy is reported per slice). Does not touch the results folder.
    /// </summary>
    public static MqarCellResult TrainCell(MqarCell cell, MqarProtocol protocol, MqarData train, MqarData test,
        Action<MqarProgress>? progress = null, CancellationToken ct = default, int cellIndex = 0, int cellCount = 1) =>
        TrainCell(cell, protocol, [train], [test], progress, ct, cellIndex, cellCount);

    /// <summary>
    /// Trains one cell from scratch on the training segments (batches per <see cref="BatchPlan"/>) and evaluates it on
    /// every test segment: accuracy per slice, and overall = mean over all test examples. Does not touch the results folder.
    /// </summary>
    public static MqarCellResult TrainCell(MqarCell cell, MqarProtocol protocol, IReadOnlyList<MqarData> train, IReadOnlyList<MqarData> test,
        Action<MqarProgress>? progress = null, CancellationToken ct = default, int cellIndex = 0, int cellCount = 1)
    {
        protocol.Validate();
        if (train.Count == 0 || test.Count == 0) throw new ArgumentException("MQAR: a cell needs at least one training and one test segment");
        if (train.Concat(test).Any(d => d.Spec.VocabSize != protocol.VocabSize))
            throw new ArgumentException("MQAR: data vocabulary differs from the protocol's");
        if (train.Any(d => d.SeqLen != train[0].SeqLen))
            throw new ArgumentException("MQAR: the training segments of one cell must share one sequence length");
        var clock = Stopwatch.StartNew();
        int seqLen = train[0].SeqLen;
        int batch = protocol.BatchSizeFor(seqLen);
        var plan = BatchPlan(train.Select(d => d.Count).ToList(), batch);
        int totalSteps = plan.Count * protocol.Epochs;
        var cfg = MqarModels.Build(cell.Mixer, cell.DModel, cell.Mlp, protocol.VocabSize, Math.Max(seqLen, test.Max(d => d.SeqLen)));
        // Cosine annealing to 0 stepped per epoch: lr_e = lr·(1 + cos(π·e/E))/2, e = 0 … E−1 (PyTorch's CosineAnnealingLR).
        var schedule = new LearningRateSchedule("cosine", cell.LearningRate, 0, 0, protocol.Epochs + 1);

        MqarProgress Report(MqarEvent ev) => new() { Event = ev, CellIndex = cellIndex, CellCount = cellCount, Cell = cell, Epochs = protocol.Epochs, TotalSteps = totalSteps };
        progress?.Invoke(Report(MqarEvent.CellStarted));

        torch.manual_seed(protocol.Seed);
        using var model = new CausalLM(cfg, protocol.Seed);
        using var optimizer = WeightDecayGroups.AdamW(model, cell.LearningRate, protocol.WeightDecay);

        int step = 0, epochsRun = 0;
        bool earlyStopped = false, diverged = false;
        double accuracy = 0, bestAccuracy = 0, epochLoss = double.NaN;
        List<MqarSliceAccuracy> slices = [];
        List<MqarCurvePoint> curve = [];
        double trainSeconds = 0;
        long tokens = 0;
        for (int epoch = 0; epoch < protocol.Epochs; epoch++)
        {
            double lr = schedule.At(epoch);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            model.train();
            var epochClock = Stopwatch.StartNew();
            double lossSum = 0;
            int lossCount = 0;
            foreach (var (segment, start, n) in plan)
            {
                ct.ThrowIfCancellationRequested();
                double loss;
                using (NewDisposeScope())
                {
                    var (x, y) = train[segment].Batch(start, n);
                    optimizer.zero_grad();
                    var l = LabelledLoss(model, x, y);
                    l.backward();
                    optimizer.step();
                    loss = l.item<float>();
                }
                step++;
                tokens += (long)n * seqLen;
                if (!double.IsFinite(loss)) { diverged = true; break; }
                lossSum += loss;
                lossCount++;
                progress?.Invoke(Report(MqarEvent.Step) with { Epoch = epoch + 1, Step = step, Loss = loss });
            }
            trainSeconds += epochClock.Elapsed.TotalSeconds;
            epochsRun = epoch + 1;
            epochLoss = lossCount > 0 ? lossSum / lossCount : double.NaN;
            (accuracy, slices) = Evaluate(model, test, protocol);
            bestAccuracy = Math.Max(bestAccuracy, accuracy);
            curve.Add(new MqarCurvePoint { Epoch = epoch + 1, Step = step, Accuracy = accuracy });
            progress?.Invoke(Report(MqarEvent.Epoch) with { Epoch = epoch + 1, Step = step, Loss = epochLoss, Accuracy = accuracy });
            if (diverged) break;
            if (accuracy > protocol.EarlyStopAccuracy) { earlyStopped = true; break; }
        }

        var result = new MqarCellResult
        {
            Key = MqarResultStore.KeyOf(cell, protocol),
            Mixer = cell.Mixer,
            DModel = cell.DModel,
            Mlp = cell.Mlp,
            SeqLen = cell.SeqLen,
            NumKvPairs = cell.NumKvPairs,
            LearningRate = cell.LearningRate,
            Protocol = protocol.Tag,
            Budget = protocol.Budget,
            Seed = protocol.Seed,
            TrainSeed = train[0].Seed,
            TestSeed = test[0].Seed,
            VocabSize = protocol.VocabSize,
            TrainExamples = train.Sum(d => d.Count),
            TestExamples = test.Sum(d => d.Count),
            BatchSize = batch,
            MaxEpochs = protocol.Epochs,
            EpochsRun = epochsRun,
            Steps = step,
            EarlyStopped = earlyStopped,
            Diverged = diverged,
            Accuracy = accuracy,
            BestEpochAccuracy = bestAccuracy,
            Slices = slices,
            Curve = curve,
            TrainLoss = epochLoss,
            Parameters = model.ParameterCount(),
            NonEmbeddingParameters = model.ParameterCount(nonEmbedding: true),
            Seconds = clock.Elapsed.TotalSeconds,
            TrainTokensPerSecond = trainSeconds > 0 ? tokens / trainSeconds : 0,
            Machine = MachineDescription(),
        };
        progress?.Invoke(Report(MqarEvent.CellFinished) with { Epoch = epochsRun, Step = step, Loss = epochLoss, Accuracy = accuracy, Result = result });
        return result;
    }

    /// <summary>
    /// Cross-entropy over the labelled positions (labels ≠ −100): the final hidden states are gathered there first and
    /// only those rows go through the LM head — the same loss as full logits with ignore_index, much cheaper.
    /// </summary>
    public static Tensor LabelledLoss(CausalLM model, Tensor inputs, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var (logits, targets) = LabelledLogits(model, inputs, labels);
        return nn.functional.cross_entropy(logits, targets).MoveToOuterDisposeScope();
    }

    /// <summary>Logits [M, V] and targets [M] at the M labelled positions of a batch (row-major order).</summary>
    public static (Tensor Logits, Tensor Targets, Tensor FlatIndex) LabelledLogitsWithIndex(CausalLM model, Tensor inputs, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var h = model.ForwardHidden(inputs);                                  // [B, T, d]
        var flatLabels = labels.reshape(-1);
        var index = flatLabels.ne(MqarData.IgnoreIndex).nonzero().reshape(-1); // [M]
        var selected = h.reshape(-1, h.shape[^1]).index_select(0, index);     // [M, d]
        var logits = model.Head(selected);
        var targets = flatLabels.index_select(0, index);
        return (logits.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope(), index.MoveToOuterDisposeScope());
    }

    private static (Tensor Logits, Tensor Targets) LabelledLogits(CausalLM model, Tensor inputs, Tensor labels)
    {
        var (logits, targets, index) = LabelledLogitsWithIndex(model, inputs, labels);
        index.Dispose();
        return (logits, targets);
    }

    /// <summary>
    /// Test accuracy over several segments: one slice per segment, overall = mean over all their examples (Zoology's
    /// valid/accuracy over every test segment). Each segment is evaluated at the protocol's batch size for its T.
    /// </summary>
    public static (double Accuracy, List<MqarSliceAccuracy> Slices) Evaluate(CausalLM model, IReadOnlyList<MqarData> test, MqarProtocol protocol)
    {
        var slices = new List<MqarSliceAccuracy>();
        double sum = 0;
        int examples = 0;
        foreach (var segment in test)
        {
            var (acc, one) = Evaluate(model, segment, protocol.BatchSizeFor(segment.SeqLen));
            slices.AddRange(one);
            sum += acc * one[0].Examples;
            examples += one[0].Examples;
        }
        return (examples > 0 ? sum / examples : 0, slices);
    }

    /// <summary>
    /// Test accuracy: per example the share of labelled positions where argmax = target, averaged over examples
    /// (Zoology's valid/accuracy); the one slice is this segment's (T, K).
    /// </summary>
    public static (double Accuracy, List<MqarSliceAccuracy> Slices) Evaluate(CausalLM model, MqarData test, int batchSize)
    {
        bool wasTraining = model.training;
        model.eval();
        double sum = 0;
        int examples = 0;
        try
        {
            using var _ = no_grad();
            long t = test.SeqLen;
            for (int start = 0; start < test.Count; start += batchSize)
            {
                int n = Math.Min(batchSize, test.Count - start);
                using var scope = NewDisposeScope();
                var (x, y) = test.Batch(start, n);
                var (logits, targets, index) = LabelledLogitsWithIndex(model, x, y);
                var correct = logits.argmax(-1).eq(targets).to_type(ScalarType.Float64);
                var example = index.div(t, RoundingMode.floor);
                var hits = zeros(n, ScalarType.Float64).index_add_(0, example, correct, 1.0);
                var counts = zeros(n, ScalarType.Float64).index_add_(0, example, ones_like(correct), 1.0);
                var has = counts.gt(0);
                sum += hits.masked_select(has).div(counts.masked_select(has)).sum().item<double>();
                examples += (int)has.sum().item<long>();
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        double acc = examples > 0 ? sum / examples : 0;
        return (acc, [new MqarSliceAccuracy { SeqLen = test.SeqLen, NumKvPairs = test.Spec.NumKvPairs, Accuracy = acc, Examples = examples }]);
    }

    /// <summary>Cores, threads, OS, runtime and TorchSharp version, for every stored result.</summary>
    public static string MachineDescription() =>
        $"{Environment.ProcessorCount} cores, intra-op threads {torch.get_num_threads()}, {RuntimeInformation.OSDescription}, " +
        $"{RuntimeInformation.ProcessArchitecture}, .NET {Environment.Version}, TorchSharp {typeof(torch).Assembly.GetName().Version}, fp32";
}
