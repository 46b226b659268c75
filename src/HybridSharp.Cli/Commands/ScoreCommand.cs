using System.CommandLine;
using HybridSharp.Eval;
using Spectre.Console;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

internal static class ScoreCommand
{
    public static Command Create()
    {
        var model = Cli.OptNoDefault<string>("--model", "model directory", "-m");
        model.Required = true;
        var text = Cli.OptNoDefault<string?>("--text", "text to score");
        var file = Cli.OptNoDefault<string?>("--file", "file whose text to score");
        var perToken = Cli.Opt("--per-token", "print each token's log-probability", false);
        var json = Cli.Opt("--json", "print {\"ids\", \"tokens\", \"logprobs\", \"total_nll\", \"perplexity\"} with full-precision numbers (the first token, BOS, is context, not scored)", false);
        var dtype = Cli.WeightFormatOpt();
        var cmd = new Command("score", "Total negative log-likelihood, per-token log-probabilities and perplexity of a text.") { model, text, file, perToken, json, dtype };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var t = pr.GetValue(text);
            var f = pr.GetValue(file);
            if ((t is null) == (f is null)) throw new ArgumentException("give exactly one of --text or --file");
            if (f is not null)
            {
                if (!File.Exists(f)) throw new FileNotFoundException($"file not found: {f}");
                t = File.ReadAllText(f);
            }
            var (m, tokenizer) = Cli.LoadForInference(pr.GetValue(model)!, pr.GetValue(dtype)!);
            using var _ = m;
            var score = TextScorer.Score(m, tokenizer, t!);
            if (pr.GetValue(json))
            {
                Console.Out.Write(System.Text.Json.JsonSerializer.Serialize(new
                {
                    ids = score.PerToken.Select(p => p.Id),
                    tokens = score.PerToken.Select(p => p.Text),
                    logprobs = score.PerToken.Select(p => p.LogProb),
                    total_nll = score.TotalNll,
                    perplexity = score.Perplexity,
                }) + "\n");
                return 0;
            }
            if (pr.GetValue(perToken))
            {
                var table = new Table().AddColumn("#").AddColumn("token").AddColumn("id").AddColumn("log p");
                int i = 0;
                foreach (var (id, tok, lp) in score.PerToken)
                    table.AddRow((++i).ToString(), Markup.Escape(tok.Replace("\n", "\\n")), id.ToString(), lp.ToString("F4"));
                AnsiConsole.Write(table);
            }
            Console.WriteLine($"tokens scored: {score.Tokens}");
            Console.WriteLine($"total NLL: {score.TotalNll:F4} nats ({score.TotalNll / Math.Log(2):F2} bits)");
            Console.WriteLine($"mean NLL: {score.TotalNll / score.Tokens:F4} nats/token");
            Console.WriteLine($"perplexity: {score.Perplexity:F4}");
            return 0;
        }));
        return cmd;
    }
}
