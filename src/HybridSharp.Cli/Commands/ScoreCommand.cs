using System.CommandLine;
using HybridSharp.Eval;
using HybridSharp.IO;
using Spectre.Console;

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
        var cmd = new Command("score", "Total negative log-likelihood, per-token log-probabilities and perplexity of a text.") { model, text, file, perToken };
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
            var (m, tokenizer) = ModelDirectory.Load(pr.GetValue(model)!);
            using var _ = m;
            var score = TextScorer.Score(m, tokenizer, t!);
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
