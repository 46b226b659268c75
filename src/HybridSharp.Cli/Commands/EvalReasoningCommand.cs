using HybridSharp.Data;
using System.CommandLine;
using System.Globalization;
using HybridSharp.Chat;
using HybridSharp.Eval.Reasoning;
using HybridSharp.Inference;
using Spectre.Console;
using HybridSharp.Checkpoints;

namespace HybridSharp.Cli.Commands;

internal static class EvalReasoningCommand
{
    public static Command Create()
    {
        var model = Cli.OptNoDefault<string>("--model", "model directory", "-m");
        model.Required = true;
        var data = Cli.OptNoDefault<string>("--data", "problem set: .jsonl or .parquet with problem, answer and optional difficulty fields", "-d");
        data.Required = true;
        var output = Cli.OptNoDefault<string>("--out", "output folder for report.md, summary.csv, problems.csv, generations.jsonl, accuracy_tokens.png", "-o");
        output.Required = true;
        var problemField = Cli.Opt("--problem-field", "field holding the problem text", "problem");
        var answerField = Cli.Opt("--answer-field", "field holding the reference answer", "answer");
        var difficultyField = Cli.Opt("--difficulty-field", "field holding the difficulty label (optional in the data)", "difficulty");
        var idField = Cli.Opt("--id-field", "field holding the problem id (default: the line/row number)", "id");
        var limit = Cli.Opt("--limit", "evaluate only the first N problems (0 = all)", 0);
        var raw = Cli.Opt("--raw", "send the prompt as plain text instead of a chat-template user turn", false);
        var promptTemplate = Cli.Opt("--prompt-template", "prompt text; {problem} is replaced by the problem", "{problem}");
        var system = Cli.OptNoDefault<string?>("--system", "system message for chat prompts");
        var chatOptions = new ChatOptions();
        var samples = Cli.Opt("--samples", "samples per problem (k) for pass@k; > 1 needs --temperature > 0", 1, "-k");
        var temperature = Cli.Opt("--temperature", "0 = greedy", 0.0, "-t");
        var topP = Cli.Opt("--top-p", "nucleus sampling mass (1 = off)", 1.0);
        var topK = Cli.Opt("--top-k", "keep the k most likely tokens (0 = off)", 0);
        var seed = Cli.Opt("--seed", "sampling seed", 42L);
        var maxTokens = Cli.Opt("--max-tokens", "generated tokens at most per sample (the cap)", 512, "-n");
        var batch = Cli.Opt("--batch-size", "prompts generated together", 8, "-b");
        var stop = new Option<string[]>("--stop") { Description = "extra stop string (repeatable)", DefaultValueFactory = _ => [] };
        var coerce = Cli.Opt("--coerce", "read a number or true/false in the problem field as text (default: an error naming the line)", false);
        var dtype = Cli.WeightFormatOpt();
        var cmd = new Command("eval-reasoning", "Generate answers for a problem set, extract and compare final answers: accuracy, pass@k, token counts, per difficulty.")
        {
            model, data, output, problemField, answerField, difficultyField, idField, limit, raw, promptTemplate, system,
            samples, temperature, topP, topK, seed, maxTokens, batch, stop, coerce, dtype,
        };
        foreach (var o in chatOptions.All) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            if (pr.GetValue(limit) < 0) throw new ArgumentException("--limit must be ≥ 0");
            var options = new ReasoningEvalOptions
            {
                UseChatTemplate = !pr.GetValue(raw),
                PromptTemplate = GenerateCommand.Unescape(pr.GetValue(promptTemplate)!),
                SystemPrompt = pr.GetValue(system),
                TemplateKwargs = chatOptions.TemplateKwargs(pr),
                Samples = pr.GetValue(samples),
                BatchSize = pr.GetValue(batch),
                Generation = new GenerationOptions
                {
                    MaxNewTokens = pr.GetValue(maxTokens),
                    StopStrings = (pr.GetValue(stop) ?? []).Select(GenerateCommand.Unescape).ToList(),
                    Sampling = new SamplingOptions
                    {
                        Temperature = pr.GetValue(temperature), TopP = pr.GetValue(topP), TopK = pr.GetValue(topK), MinP = 0, Seed = pr.GetValue(seed),
                    },
                },
            };
            options.Validate();
            var fields = new ProblemFields
            {
                Problem = pr.GetValue(problemField)!, Answer = pr.GetValue(answerField)!, Difficulty = pr.GetValue(difficultyField)!, Id = pr.GetValue(idField)!,
            };
            int max = pr.GetValue(limit) is > 0 and var l ? l : int.MaxValue;
            var problems = ReasoningProblemReader.Read(pr.GetValue(data)!, fields, max, new RecordReadOptions { CoerceText = pr.GetValue(coerce) });
            var modelDir = pr.GetValue(model)!;
            var (m, tokenizer) = Cli.LoadForInference(modelDir, pr.GetValue(dtype)!);
            using var _ = m;
            var chat = options.UseChatTemplate ? chatOptions.Template(pr, tokenizer, modelDir) : null;
            var evaluator = new ReasoningEvaluator(new TextGenerator(m, tokenizer), chat, options);

            using var cts = Cli.CancelOnStopSignal("writing the report for finished problems, then exiting");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int every = Math.Max(1, problems.Count * options.Samples / 10);
            int lastShown = 0;
            var results = evaluator.Run(problems, (done, total) =>
            {
                if (done - lastShown >= every || done == total)
                {
                    lastShown = done;
                    Console.WriteLine($"eval-reasoning {done}/{total} generations ({clock.Elapsed.TotalSeconds:F0} s)");
                }
            }, cts.Token);
            if (results.Count == 0)
            {
                Cli.Error("interrupted before any problem finished; nothing written");
                return Cli.ExitInterrupted;
            }

            var inv = CultureInfo.InvariantCulture;
            var settings = new List<KeyValuePair<string, string>>
            {
                new("model", Path.GetFullPath(modelDir)),
                new("data", Path.GetFullPath(pr.GetValue(data)!)),
                new("prompt", options.UseChatTemplate ? $"chat template: {chat!.Source}" + (options.SystemPrompt is null ? "" : ", with system message") : "raw"),
                new("prompt template", options.PromptTemplate.Replace("\n", "\\n")),
                new("decoding", options.Generation.Sampling.Temperature <= 0 ? "greedy"
                    : $"temperature {options.Generation.Sampling.Temperature.ToString(inv)}, top-p {options.Generation.Sampling.TopP.ToString(inv)}, top-k {options.Generation.Sampling.TopK}, seed {options.Generation.Sampling.Seed}"),
                new("samples per problem", options.Samples.ToString(inv)),
                new("max tokens", options.Generation.MaxNewTokens.ToString(inv)),
                new("problems", $"{results.Count} of {problems.Count}"),
                new("wall time", $"{clock.Elapsed.TotalSeconds:F1} s"),
            };
            var outDir = pr.GetValue(output)!;
            var (overall, _) = ReasoningReport.Write(outDir, results, settings);
            AnsiConsole.MarkupLine(Markup.Escape(
                $"{overall.Problems} problems × {options.Samples}: accuracy {overall.Accuracy:P1}, pass@1 {overall.Pass1:P1}" +
                (options.Samples > 1 ? $", pass@{options.Samples} {overall.PassAtK[options.Samples]:P1}" : "") +
                $", mean tokens {overall.MeanTokens:F1} (median {overall.MedianTokens:F1}), hit cap {overall.CapFraction:P1}; wrote {outDir}"));
            return cts.IsCancellationRequested ? Cli.ExitInterrupted : 0;
        }));
        return cmd;
    }
}
