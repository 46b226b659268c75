using System.Globalization;

namespace HybridSharp.Eval.Mqar;

/// <summary>
/// Data and training settings shared by every cell of an MQAR sweep (Zoology Figure 2):
/// V 8192, 100,000 train / 3,000 test examples per (T, K), 64 epochs, batch 512 (T ≤ 128), 256 (T 256), 128 (T ≥ 512),
/// AdamW (weight decay 0.1, default betas) with cosine annealing to 0 stepped once per epoch, no warmup, no clipping,
/// early stop once test accuracy &gt; 0.99, filler tokens 0 (random_non_queries false), power_a 0.01.
/// </summary>
public sealed record MqarProtocol
{
    public const int FullTrainExamples = 100_000;
    public const int FullTestExamples = 3_000;
    public const int FullEpochs = 64;

    public int VocabSize { get; init; } = MqarSpec.DefaultVocab;
    public int TrainExamples { get; init; } = FullTrainExamples;
    /// <summary>
    /// Training tokens per cell: when set, a cell at length T trains on ⌈TrainTokens / T⌉ examples (instead of
    /// <see cref="TrainExamples"/>), so every T gets the same compute per epoch; with <see cref="BatchTokens"/> also the
    /// same number of steps.
    /// </summary>
    public long? TrainTokens { get; init; }
    public int TestExamples { get; init; } = FullTestExamples;
    public int Epochs { get; init; } = FullEpochs;
    /// <summary>Fixed batch size; null = Zoology's rule by sequence length (<see cref="BatchSizeFor"/>).</summary>
    public int? BatchSize { get; init; }
    /// <summary>
    /// Tokens per batch: the batch size at length T is ⌊BatchTokens / T⌋ (at least 1), so every T costs the same per
    /// step — Zoology's 512 / 256 / 128 rule at any scale. Exclusive with <see cref="BatchSize"/>.
    /// </summary>
    public int? BatchTokens { get; init; }
    /// <summary>
    /// Zoology's "original MQAR" layout: one model per sequence length T, trained on a mixture of every K of the grid
    /// at that T (<see cref="TrainExamples"/> split evenly over the K segments; batches never mix segments and take
    /// the segments in turn), tested on each (T, K) slice. False = one model per (T, K).
    /// </summary>
    public bool Mixture { get; init; }
    public double PowerA { get; init; } = 0.01;
    public bool RandomNonQueries { get; init; }
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Training stops after the first epoch whose test accuracy exceeds this.</summary>
    public double EarlyStopAccuracy { get; init; } = 0.99;
    /// <summary>Seeds the data segments (train and test seeds derive from it) and the model initialisation.</summary>
    public long Seed { get; init; }
    /// <summary>The budget factor this protocol was derived from (1 = full protocol); informational.</summary>
    public double Budget { get; init; } = 1.0;

    /// <summary>
    /// The full protocol scaled by <paramref name="budget"/> ∈ (0, 1]: the training examples processed (set size ×
    /// epochs) shrink to f · 6,400,000, using the fewest epochs that keep the set within the full protocol's 100,000
    /// distinct examples: epochs = ⌈64·f⌉, set size = f · 6,400,000 / epochs. So f = 1 is Zoology's 100,000 × 64 and
    /// f = 0.04 is 85,333 × 3 (≈ 500 steps at batch 512). Distinct examples matter more than epochs at small budgets:
    /// with V 8192 a 2-layer model memorises a small set (16,000 × 8 epochs: test accuracy 0.24) where the same compute
    /// on fresh data learns recall (128,000 × 1: 0.95; attention, d 64, T 64, K 4, 500 steps of 256). The test set
    /// stays at 3,000 examples.
    /// </summary>
    public static MqarProtocol FromBudget(double budget, long seed = 0)
    {
        if (!(budget > 0 && budget <= 1)) throw new ArgumentException($"`budget` must be in (0, 1] (got {budget})");
        double passes = budget * FullTrainExamples * FullEpochs;
        int epochs = Math.Clamp((int)Math.Ceiling(budget * FullEpochs - 1e-9), 1, FullEpochs);
        return new MqarProtocol
        {
            TrainExamples = Math.Clamp((int)Math.Round(passes / epochs), 1, FullTrainExamples),
            TestExamples = FullTestExamples,
            Epochs = epochs,
            Seed = seed,
            Budget = budget,
        };
    }

    /// <summary>Training examples of one cell at length <paramref name="seqLen"/> (all K segments together for a mixture).</summary>
    public int TrainExamplesFor(int seqLen) =>
        TrainTokens is { } tokens ? (int)Math.Min(int.MaxValue, (tokens + seqLen - 1) / seqLen) : TrainExamples;

    /// <summary>Training examples processed (set size × epochs) as a fraction of the full protocol's 100,000 × 64.</summary>
    public double ExampleFraction => (double)TrainExamples * Epochs / ((double)FullTrainExamples * FullEpochs);

    /// <summary>Zoology Figure 2's batch size: 512 for T ≤ 128, 256 for T ≤ 256, 128 above (unless fixed).</summary>
    public int BatchSizeFor(int seqLen) =>
        BatchSize ?? (BatchTokens is { } tokens ? Math.Max(1, tokens / seqLen) : seqLen <= 128 ? 512 : seqLen <= 256 ? 256 : 128);

    /// <summary>The segment spec of a (T, K) task under this protocol.</summary>
    public MqarSpec SpecFor(int seqLen, int numKvPairs) => new(VocabSize, seqLen, numKvPairs, PowerA, 1, RandomNonQueries);

    public void Validate()
    {
        if (VocabSize <= 2) throw new ArgumentException($"MQAR: vocabulary must be > 2 (got {VocabSize})");
        if (TrainExamples <= 0) throw new ArgumentException($"MQAR: train examples must be positive (got {TrainExamples})");
        if (TrainTokens is <= 0) throw new ArgumentException($"MQAR: train tokens must be positive (got {TrainTokens})");
        if (TestExamples <= 0) throw new ArgumentException($"MQAR: test examples must be positive (got {TestExamples})");
        if (Epochs <= 0) throw new ArgumentException($"MQAR: epochs must be positive (got {Epochs})");
        if (BatchSize is <= 0) throw new ArgumentException($"MQAR: batch size must be positive (got {BatchSize})");
        if (BatchTokens is <= 0) throw new ArgumentException($"MQAR: batch tokens must be positive (got {BatchTokens})");
        if (BatchSize is not null && BatchTokens is not null) throw new ArgumentException("MQAR: give either a batch size or batch tokens, not both");
        if (WeightDecay < 0) throw new ArgumentException($"MQAR: weight decay must be ≥ 0 (got {WeightDecay})");
    }

    /// <summary>Identifies everything that changes results besides the cell itself; part of each cell's key.</summary>
    public string Tag => string.Create(CultureInfo.InvariantCulture,
        $"V{VocabSize}-{(TrainTokens is { } tt ? "tok" + tt.ToString(CultureInfo.InvariantCulture) : "n" + TrainExamples.ToString(CultureInfo.InvariantCulture))}x{Epochs}-test{TestExamples}-b{BatchTag}" +
        $"-a{PowerA:G4}-rnq{(RandomNonQueries ? 1 : 0)}-wd{WeightDecay:G4}-stop{EarlyStopAccuracy:G4}-seed{Seed}{(Mixture ? "-mix" : "")}");

    /// <summary>A protocol tag without its seed: the results of one protocol run with several seeds share it.</summary>
    public static string WithoutSeed(string tag) => System.Text.RegularExpressions.Regex.Replace(tag, "-seed-?[0-9]+", "");

    private string BatchTag => BatchSize is { } b ? b.ToString(CultureInfo.InvariantCulture)
        : BatchTokens is { } t ? "tok" + t.ToString(CultureInfo.InvariantCulture) : "auto";
}

/// <summary>
/// One cell of the sweep: a model (mixer, width, FFN) trained on one (T, K) task at one learning rate — or, with
/// <see cref="NumKvPairs"/> = <see cref="MixedPairs"/>, on the mixture of every K of the grid at length T.
/// </summary>
public sealed record MqarCell(string Mixer, int DModel, bool Mlp, int SeqLen, int NumKvPairs, double LearningRate)
{
    /// <summary>The K of a mixture cell: trained on every K of the grid at its T (<see cref="MqarProtocol.Mixture"/>).</summary>
    public const int MixedPairs = 0;

    public bool IsMixture => NumKvPairs == MixedPairs;

    /// <summary>Mixer name as shown in tables and charts ("+mlp" appended when the model has an FFN).</summary>
    public string ModelLabel => Mlp ? Mixer + "+mlp" : Mixer;

    public string Tag => string.Create(CultureInfo.InvariantCulture,
        $"{Mixer}-d{DModel}-{(Mlp ? "mlp" : "nomlp")}-T{SeqLen}-K{(IsMixture ? "mix" : NumKvPairs.ToString(CultureInfo.InvariantCulture))}-lr{LearningRate:G6}");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{ModelLabel} d{DModel} T{SeqLen} K{(IsMixture ? "mix" : NumKvPairs.ToString(CultureInfo.InvariantCulture))} lr {LearningRate:G3}");
}
