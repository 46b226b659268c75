using System.CommandLine;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using HybridSharp.Tasks;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

internal static class DataCommand
{
    public static Command Create()
    {
        var output = new Argument<string>("out") { Description = "dataset directory to write (train.bin, val.bin, dataset.json)" };
        var inputs = new Argument<string[]>("inputs") { Description = ".txt, .jsonl or .parquet files", Arity = ArgumentArity.ZeroOrMore };
        var field = Cli.Opt("--field", "JSONL field / Parquet column holding the text", "text");
        var wholeFile = Cli.Opt("--whole-file", "treat each .txt file as one document (default: blank-line separated)", false);
        var val = Cli.Opt("--val-fraction", "fraction of documents held out for validation", 0.01);
        var seed = Cli.Opt("--seed", "split seed", 1234L);
        var tokenizer = Cli.Opt("--tokenizer", "tokenizer kind: byte, hf (tokenizer.json in --tokenizer-dir) or tiktoken:<encoding> (cl100k_base, o200k_base, r50k_base, gpt2)", "byte");
        var tokenizerDir = Cli.OptNoDefault<string?>("--tokenizer-dir", "folder with tokenizer.json (for --tokenizer hf), e.g. a model directory");
        var arithmetic = Cli.Opt("--arithmetic", "generate this many synthetic arithmetic problems instead of reading files", 0);
        var style = Cli.Opt("--style", "solution style of the synthetic problems: concise or verbose", "concise");
        var maxDiff = Cli.Opt("--max-difficulty", "largest number of operations in synthetic problems", 4);
        var replaceUtf8 = Cli.Opt("--replace-invalid-utf8", "replace invalid UTF-8 in .txt / .jsonl files with U+FFFD (default: an error naming the byte)", false);
        var coerce = Cli.Opt("--coerce", "read a number or true/false in the text field (a numeric Parquet column) as text (default: an error naming the line)", false);
        var cmd = new Command("data", "Tokenize text, JSONL or Parquet files (or synthetic arithmetic problems) into packed token shards.")
            { output, inputs, field, wholeFile, val, seed, tokenizer, tokenizerDir, arithmetic, style, maxDiff, replaceUtf8, coerce };
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var tok = TokenizerFactory.Create(pr.GetValue(tokenizer)!, pr.GetValue(tokenizerDir));
            var options = new CorpusBuilderOptions
            {
                ValidationFraction = pr.GetValue(val),
                Seed = pr.GetValue(seed),
                Documents = new DocumentReaderOptions
                {
                    JsonlField = pr.GetValue(field)!,
                    ParquetColumn = pr.GetValue(field)!,
                    TextMode = pr.GetValue(wholeFile) ? TextDocumentMode.WholeFile : TextDocumentMode.BlankLineSeparated,
                    ReplaceInvalidUtf8 = pr.GetValue(replaceUtf8),
                    CoerceText = pr.GetValue(coerce),
                },
            };
            var builder = new CorpusBuilder(tok, options);
            int n = pr.GetValue(arithmetic);
            var files = pr.GetValue(inputs) ?? [];
            if (n > 0)
                builder.AddDocuments(ArithmeticCorpus.Documents(tok, n, (int)pr.GetValue(seed), 1, pr.GetValue(maxDiff), ParseStyle(pr.GetValue(style)!)), "arithmetic");
            else if (files.Length == 0)
                throw new ArgumentException("give input files or --arithmetic <count>");
            builder.AddFiles(files);
            var manifest = builder.Build(pr.GetValue(output)!);
            AnsiConsole.MarkupLine($"Wrote [green]{Markup.Escape(pr.GetValue(output)!)}[/]: {manifest.TrainTokens:N0} train / {manifest.ValidationTokens:N0} validation tokens from {manifest.TrainDocuments + manifest.ValidationDocuments:N0} documents.");
            return 0;
        }));
        return cmd;
    }

    public static SolutionStyle ParseStyle(string s) => s.ToLowerInvariant() switch
    {
        "concise" => SolutionStyle.Concise,
        "verbose" => SolutionStyle.Verbose,
        _ => throw new ArgumentException($"--style must be concise or verbose, not '{s}'"),
    };
}
