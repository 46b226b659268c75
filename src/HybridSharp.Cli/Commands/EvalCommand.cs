using System.CommandLine;
using HybridSharp.Data.Corpus;
using HybridSharp.Eval;
using HybridSharp.Inference;
using Spectre.Console;
using HybridSharp.Tasks;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

internal static class EvalCommand
{
    public static Command Create()
    {
        var model = Cli.OptNoDefault<string>("--model", "model directory", "-m");
        model.Required = true;
        var data = Cli.OptNoDefault<string?>("--data", "dataset directory: report validation perplexity");
        var split = Cli.Opt("--split", "val or train", "val");
        var seqLen = Cli.Opt("--seq-len", "window length for perplexity", 256);
        var maxBatches = Cli.Opt("--max-batches", "limit on perplexity batches", 50);
        var arithmetic = Cli.Opt("--arithmetic", "evaluate arithmetic accuracy on this many held-out problems (0 = off)", 0);
        var minDiff = Cli.Opt("--min-difficulty", "fewest operations", 1);
        var maxDiff = Cli.Opt("--max-difficulty", "most operations", 4);
        var maxTokens = Cli.Opt("--max-tokens", "token budget per answer", 160);
        var batch = Cli.Opt("--batch-size", "prompts generated together", 16);
        var dtype = Cli.WeightFormatOpt();
        var cmd = new Command("eval", "Perplexity on a dataset and/or accuracy on held-out arithmetic problems.")
            { model, data, split, seqLen, maxBatches, arithmetic, minDiff, maxDiff, maxTokens, batch, dtype };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var dataDir = pr.GetValue(data);
            int n = pr.GetValue(arithmetic);
            if (dataDir is null && n <= 0) throw new ArgumentException("give --data <dataset> and/or --arithmetic <count>");
            if (pr.GetValue(minDiff) < 1 || pr.GetValue(maxDiff) < pr.GetValue(minDiff)) throw new ArgumentException("need 1 ≤ --min-difficulty ≤ --max-difficulty");
            var (m, tokenizer) = Cli.LoadForInference(pr.GetValue(model)!, pr.GetValue(dtype)!);
            using var _ = m;
            if (dataDir is not null)
            {
                using var ds = TokenDataset.Open(dataDir);
                var shard = pr.GetValue(split) switch
                {
                    "val" => ds.Validation,
                    "train" => ds.Train,
                    var s => throw new ArgumentException($"--split must be val or train, not '{s}'"),
                };
                var (nll, ppl, tokens) = TextScorer.ScoreShard(m, shard, pr.GetValue(seqLen), 8, pr.GetValue(maxBatches));
                Console.WriteLine($"{pr.GetValue(split)}: {tokens:N0} tokens, mean NLL {nll:F4} nats/token, perplexity {ppl:F3}");
            }
            if (n > 0)
            {
                var problems = ArithmeticEval.HeldOut(n, pr.GetValue(minDiff), pr.GetValue(maxDiff));
                var report = ArithmeticEval.Run(new TextGenerator(m, tokenizer), problems, pr.GetValue(batch), pr.GetValue(maxTokens));
                Console.WriteLine(report.ToMarkdown());
            }
            return 0;
        }));
        return cmd;
    }
}
