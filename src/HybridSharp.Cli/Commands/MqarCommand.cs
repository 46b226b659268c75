using HybridSharp.Runtime;
using System.CommandLine;
using System.Globalization;
using HybridSharp.Eval.Mqar;

namespace HybridSharp.Cli.Commands;

/// <summary>
/// <c>hybrid mqar</c>: the Zoology multi-query associative recall sweep — mixers × d_model ×
/// (T, K) × learning rates, best LR kept — with resumable per-cell results and CSV / markdown / PNG summaries.
/// </summary>
internal static class MqarCommand
{
    public static Command Create()
    {
        var output = Cli.Opt("--out", "results folder (results.jsonl, mqar.csv, mqar.md, mqar.png); reruns skip finished cells", Path.Combine("results", "mqar"), "-o");
        var mixers = Cli.Opt("--mixers", $"comma-separated mixers: {string.Join(", ", MqarModels.Mixers)}, dma-w<N> (DMA keeping N keys)", "attention,dma,ssd,hybrid");
        var dModels = Cli.Opt("--d-models", "comma-separated model widths", "64,128");
        var seqLens = Cli.Opt("--seq-lens", "comma-separated sequence lengths T", "128,256,512");
        var pairs = Cli.Opt("--pairs", "comma-separated key-value pair counts K (pairs with 4·K > T are skipped)", "8,16,32,64");
        var lrs = Cli.Opt("--lrs", "comma-separated learning rates (≥ 3; the best per point is reported)", "1e-4,4.6e-4,2.2e-3,1e-2");
        var mlp = Cli.Opt("--mlp", "give each layer a SwiGLU FFN (width 4·d)", false);
        var noMlp = Cli.Opt("--no-mlp", "no FFN: mixer-only layers as in Zoology Figure 2 (the default)", false);
        var budget = Cli.Opt("--budget", "fraction f of the full protocol's training (100,000 examples × 64 epochs) per cell: ⌈64·f⌉ epochs over f·6.4M/epochs examples; 1 = full", 0.04);
        var seed = Cli.Opt("--seed", "data and initialisation seed; several, comma-separated (e.g. 0,1,2), run the grid once per seed into the same --out", "0");
        var epochs = Cli.OptNoDefault<int?>("--epochs", "override the number of epochs");
        var trainExamples = Cli.OptNoDefault<int?>("--train-examples", "override the training examples per (T, K)");
        var testExamples = Cli.OptNoDefault<int?>("--test-examples", "override the test examples per (T, K)");
        var batch = Cli.OptNoDefault<int?>("--batch-size", "fixed batch size (default: 512 for T ≤ 128, 256 for T 256, 128 above)");
        var trainTokens = Cli.OptNoDefault<long?>("--train-tokens", "training tokens per model: ⌈N / T⌉ examples at length T, the same compute at every T (overrides --train-examples)");
        var batchTokens = Cli.OptNoDefault<int?>("--batch-tokens", "tokens per batch: batch size ⌊N / T⌋, the same cost per step at every T (exclusive with --batch-size)");
        var mixture = Cli.Opt("--mixture", "one model per T trained on a mixture of every K at that T (Zoology's original MQAR layout), tested per (T, K); --train-examples is then per T", false);
        var reportOnly = Cli.Opt("--report-only", "train nothing: rewrite mqar.csv / mqar.md / mqar.png from the results already in --out (e.g. results.jsonl files merged from several machines)", false);
        var vocab = Cli.Opt("--vocab", "vocabulary size V (keys from [1, V/2), values from [V/2, V))", MqarSpec.DefaultVocab);
        var shard = Cli.OptNoDefault<string?>("--shard", "run only share I of N of the grid's cells (I/N, 0-based; stable: a cell's share depends on its key alone), e.g. $SLURM_ARRAY_TASK_ID/16");
        var merge = new Option<string[]>("--merge") { Description = "merge results.jsonl of these folders (one per shard or machine) into --out, then write the summaries (implies --report-only)", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [] };
        var randomFill = Cli.Opt("--random-non-queries", "fill non-query positions with random tokens (Zoology's generator default; Figure 2 uses 0)", false);
        var cmd = new Command("mqar", "Multi-query associative recall sweep (Zoology protocol, CPU budget): accuracy per mixer × d_model × T × K.")
            { output, mixers, dModels, seqLens, pairs, lrs, mlp, noMlp, budget, seed, epochs, trainExamples, testExamples, batch, trainTokens, batchTokens, mixture, reportOnly, vocab, randomFill, shard, merge };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            if (pr.GetValue(mlp) && pr.GetValue(noMlp)) throw new ArgumentException("give either --mlp or --no-mlp, not both");
            var sweep = new MqarSweep(
                ParseList(pr.GetValue(mixers)!, "--mixers", s => s),
                ParseList(pr.GetValue(dModels)!, "--d-models", s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)),
                ParseList(pr.GetValue(seqLens)!, "--seq-lens", s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)),
                ParseList(pr.GetValue(pairs)!, "--pairs", s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)),
                ParseList(pr.GetValue(lrs)!, "--lrs", s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)),
                pr.GetValue(mlp));
            var seeds = ParseList(pr.GetValue(seed)!, "--seed", s => long.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));
            var protocol = MqarProtocol.FromBudget(pr.GetValue(budget), seeds[0]);
            protocol = protocol with
            {
                Epochs = pr.GetValue(epochs) ?? protocol.Epochs,
                TrainExamples = pr.GetValue(trainExamples) ?? protocol.TrainExamples,
                TestExamples = pr.GetValue(testExamples) ?? protocol.TestExamples,
                BatchSize = pr.GetValue(batch),
                BatchTokens = pr.GetValue(batchTokens),
                TrainTokens = pr.GetValue(trainTokens),
                Mixture = pr.GetValue(mixture),
                VocabSize = pr.GetValue(vocab),
                RandomNonQueries = pr.GetValue(randomFill),
            };
            protocol.Validate();
            sweep.Validate();
            if (sweep.LearningRates.Distinct().Count() < 3)
                Console.WriteLine("note: fewer than 3 learning rates; SSM-type mixers succeed only in a narrow LR window");
            var mergeDirs = pr.GetValue(merge) ?? [];
            var part = pr.GetValue(shard) is { } sh ? WorkShard.Parse(sh) : null;
            if (part is not null && (mergeDirs.Length > 0 || pr.GetValue(reportOnly)))
                throw new ArgumentException("--shard trains a share of the grid; --merge and --report-only train nothing: give one or the other");
            if (pr.GetValue(reportOnly) || mergeDirs.Length > 0) return MqarConsole.ReportOnly(pr.GetValue(output)!, sweep, protocol, mergeDirs);
            foreach (var s in seeds.Distinct())
            {
                int code = MqarConsole.Run(pr.GetValue(output)!, sweep, protocol with { Seed = s }, part);
                if (code != 0) return code;
            }
            return 0;
        }));
        return cmd;
    }

    private static List<T> ParseList<T>(string text, string option, Func<string, T> parse)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException($"{option} needs at least one value");
        var list = new List<T>();
        foreach (var p in parts)
        {
            try { list.Add(parse(p)); }
            catch (FormatException) { throw new ArgumentException($"{option}: '{p}' is not a valid value"); }
            catch (OverflowException) { throw new ArgumentException($"{option}: '{p}' is out of range"); }
        }
        return list;
    }
}
