using HybridSharp.Runtime;
using System.CommandLine;
using System.Globalization;
using HybridSharp.Data;
using HybridSharp.Distill;
using HybridSharp.TeacherSim;
using Spectre.Console;

namespace HybridSharp.Cli.Commands.Distill;

/// <summary><c>hybrid distill run</c>: parses the options and calls <see cref="DistillRun"/> under a progress display.</summary>
internal static class DistillRunCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("inputs") { Description = ".jsonl or .parquet files with problems", Arity = ArgumentArity.OneOrMore };
        var output = Cli.Opt("--out", $"output folder ({DistillRun.DatabaseFile}, exports, report.md); rerunning the same command resumes", "distilled", "-o");
        var baseUrl = Cli.OptNoDefault<string>("--base-url", "teacher base URL(s), comma-separated to spread load, e.g. http://127.0.0.1:8000/v1");
        var model = Cli.OptNoDefault<string>("--model", "teacher model name, e.g. deepseek-reasoner");
        var keyEnv = Cli.Opt("--api-key-env", "environment variable holding the API key (unset: no Authorization header)", "OPENAI_API_KEY");
        var mode = Cli.Opt("--mode", "one-call (DAP prompt; reasoning = long trace) or two-call (long trace, then DAP rewrite)", "one-call");
        var promptDir = Cli.OptNoDefault<string?>("--prompt-dir", "folder overriding the built-in prompt templates (see 'hybrid distill prompts')");
        var problemField = Cli.Opt("--problem-field", "input field with the problem", "problem");
        var referenceField = Cli.Opt("--reference-field", "input field with the reference answer or solution", "solution");
        var idField = Cli.Opt("--id-field", "input field with a unique id (missing: hash of the problem)", "id");
        var longCotField = Cli.OptNoDefault<string?>("--long-cot-field", "input field with an existing long chain of thought (two-call mode uses it instead of a first call)");
        var domainField = Cli.Opt("--domain-field", "input field with the domain", "domain");
        var domain = Cli.Opt("--domain", "domain of rows without a domain field", "math");
        var filters = Cli.Opt("--filters", "source filters: comma-separated figures, multipart, boxed; or none", "none");
        var validators = Cli.Opt("--validators", $"enabled validators: comma-separated {string.Join(", ", RejectionCodes.Validators)}; or none", string.Join(",", RejectionCodes.Validators));
        var keepUnknown = Cli.Opt("--keep-unknown", "keep rows whose difficulty headers match no framework", false);
        var requireReasoning = Cli.Opt("--require-reasoning", "reject rows without a long trace", false);
        var maxChars = Cli.Opt("--max-solution-chars", "budget validator: largest solution block in characters (0 = unchecked)", 8192);
        var maxSolTokens = Cli.OptNoDefault<int?>("--max-solution-tokens", "budget validator: largest solution block in tokens of --tokenizer");
        var noRefRewrite = Cli.Opt("--no-reference-in-rewrite", "two-call mode: do not give the reference to the rewrite call", false);
        var dedup = Cli.Opt("--dedup", "exact, fuzzy, both or none (fuzzy = FuzzySharp ratio ≥ threshold within each domain)", "both");
        var threshold = Cli.Opt("--dedup-threshold", "fuzzy ratio threshold (0–100)", 95);
        var evalSet = Cli.OptNoDefault<string[]>("--eval-set", "evaluation files (.jsonl/.parquet) to decontaminate against");
        evalSet.AllowMultipleArgumentsPerToken = true;
        var evalField = Cli.Opt("--eval-field", "field with the problem text in --eval-set files", "problem");
        var concurrency = Cli.Opt("--concurrency", "requests in flight", 8, "-j");
        var rpm = Cli.OptNoDefault<int?>("--rpm", "requests-per-minute limit");
        var tpm = Cli.OptNoDefault<int?>("--tpm", "tokens-per-minute limit");
        var timeout = Cli.Opt("--timeout", "per-request timeout in seconds", 600.0);
        var retries = Cli.Opt("--retries", "retries for 429, 5xx, timeouts, broken or malformed answers", 6);
        var stream = Cli.Opt("--stream", "use SSE streaming", false);
        var maxTokens = Cli.Opt("--max-tokens", "max_tokens per call", 8192);
        var maxTokensScope = Cli.Opt("--max-tokens-scope", "what max_tokens caps on your server: total or answer (recorded per row)", "total");
        var temperature = Cli.OptNoDefault<double?>("--temperature", "sampling temperature (sent as temperature)");
        var topP = Cli.OptNoDefault<double?>("--top-p", "nucleus sampling top_p");
        var seed = Cli.OptNoDefault<long?>("--seed", "sampling seed sent to the server");
        var onFailure = Cli.Opt("--on-failure", "after retries: drop (record, retry on next run) or fail (stop the run)", "drop");
        var limit = Cli.OptNoDefault<int?>("--limit", "only the first N input problems");
        var cache = Cli.OptNoDefault<string?>("--cache", $"response cache database to share across runs (default: <out>/{DistillRun.DatabaseFile})");
        var shard = Cli.OptNoDefault<string?>("--shard", "distil only share I of N of the problems (I/N, 0-based; by normalised problem text, so exact duplicates share a shard); one --out per shard, then 'distill merge'");
        var coerce = Cli.Opt("--coerce", "read a number or true/false in the problem or long-CoT field as text (default: an error naming the line)", false);
        var report = new ReportOptions();
        var export = new ExportFlags();
        var cmd = new Command("run", "Distill: generate with the teacher, validate, label difficulty, export and report. Resumable; cached calls are never re-sent.")
        {
            inputs, output, baseUrl, model, keyEnv, mode, promptDir, problemField, referenceField, idField, longCotField, domainField, domain,
            filters, validators, keepUnknown, requireReasoning, maxChars, maxSolTokens, noRefRewrite, dedup, threshold, evalSet, evalField,
            concurrency, rpm, tpm, timeout, retries, stream, maxTokens, maxTokensScope, temperature, topP, seed, onFailure, limit, cache, coerce, shard,
        };
        foreach (var o in report.All.Concat(export.All)) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            var urls = (pr.GetValue(baseUrl) ?? throw new ArgumentException("--base-url is required (the teacher's OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1)"))
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri : throw new ArgumentException($"--base-url: '{u}' is not an http(s) URL"))
                .ToList();
            var modelName = pr.GetValue(model) ?? throw new ArgumentException("--model is required (the teacher model name)");
            var distillMode = pr.GetValue(mode) switch
            {
                "one-call" => DistillMode.OneCall,
                "two-call" => DistillMode.TwoCall,
                var m => throw new ArgumentException($"--mode must be one-call or two-call, not '{m}'"),
            };
            if (pr.GetValue(concurrency) < 1) throw new ArgumentException("--concurrency must be at least 1");
            if (pr.GetValue(timeout) <= 0) throw new ArgumentException("--timeout must be positive");
            if (pr.GetValue(rpm) is <= 0 || pr.GetValue(tpm) is <= 0) throw new ArgumentException("--rpm and --tpm must be positive");
            if (pr.GetValue(maxTokensScope) is not ("total" or "answer")) throw new ArgumentException("--max-tokens-scope must be total or answer");
            var failure = pr.GetValue(onFailure) switch
            {
                "drop" => FailurePolicy.Drop,
                "fail" => FailurePolicy.Fail,
                var f => throw new ArgumentException($"--on-failure must be drop or fail, not '{f}'"),
            };
            var filterSet = ParseSet(pr.GetValue(filters)!, "--filters", ["figures", "multipart", "boxed"]);
            var dedupMode = pr.GetValue(dedup) switch
            {
                "both" or "exact" or "fuzzy" or "none" => pr.GetValue(dedup)!,
                var d => throw new ArgumentException($"--dedup must be exact, fuzzy, both or none, not '{d}'"),
            };
            if (pr.GetValue(threshold) is < 0 or > 100) throw new ArgumentException("--dedup-threshold must be between 0 and 100");
            var tokenizer = report.CreateTokenizer(pr);
            var fields = new ProblemFields
            {
                Problem = pr.GetValue(problemField)!, Answer = pr.GetValue(referenceField)!, Id = pr.GetValue(idField),
                LongCot = pr.GetValue(longCotField), Domain = pr.GetValue(domainField), DefaultDomain = pr.GetValue(domain)!,
            };
            var read = new RecordReadOptions { CoerceText = pr.GetValue(coerce) };
            var problems = ProblemReader.Read(pr.GetValue(inputs)!, fields, read);
            if (problems.Count == 0) throw new ArgumentException("the input holds no problems");
            if (pr.GetValue(shard) is { } sh)
            {
                var part = WorkShard.Parse(sh);
                problems = [.. problems.Where(p => part.Owns(NearDuplicates.Normalize(p.Problem)))];
                Console.WriteLine($"shard {part}: {problems.Count} problems");
                if (problems.Count == 0) throw new ArgumentException($"shard {part} holds none of the input's problems; use fewer shards");
            }
            var evalTexts = new List<string>();
            foreach (var file in pr.GetValue(evalSet) ?? [])
                evalTexts.AddRange(ProblemReader.Read([file], new ProblemFields { Problem = pr.GetValue(evalField)!, Id = null, Domain = null }, read)
                    .Select(p => p.Problem));
            var options = new DistillOptions
            {
                Mode = distillMode,
                Prompts = PromptSet.Load(pr.GetValue(promptDir)),
                Generation = new GenerationParameters
                {
                    MaxTokens = pr.GetValue(maxTokens), MaxTokensScope = pr.GetValue(maxTokensScope)!,
                    Temperature = pr.GetValue(temperature), TopP = pr.GetValue(topP), Seed = pr.GetValue(seed),
                },
                ReferenceInRewrite = !pr.GetValue(noRefRewrite),
                Validators = ValidatorOptions.FromList(pr.GetValue(validators)!) with
                {
                    KeepUnknown = pr.GetValue(keepUnknown), RequireReasoning = pr.GetValue(requireReasoning),
                    MaxSolutionChars = pr.GetValue(maxChars) > 0 ? pr.GetValue(maxChars) : null, MaxSolutionTokens = pr.GetValue(maxSolTokens),
                },
                SourceFilters = new SourceFilterOptions
                {
                    Figures = filterSet.Contains("figures"), MultiPart = filterSet.Contains("multipart"), RequireBoxed = filterSet.Contains("boxed"),
                },
                Dedup = dedupMode == "none" && evalTexts.Count == 0 ? null : new DedupOptions
                {
                    Exact = dedupMode is "both" or "exact", Fuzzy = dedupMode is "both" or "fuzzy", Threshold = pr.GetValue(threshold), EvalTexts = evalTexts,
                },
                Concurrency = pr.GetValue(concurrency),
                OnFailure = failure,
                BudgetTokenizer = pr.GetValue(maxSolTokens) is null ? null : tokenizer,
                Limit = pr.GetValue(limit),
            };
            var apiKey = Environment.GetEnvironmentVariable(pr.GetValue(keyEnv)!);
            var clientOptions = new TeacherClientOptions
            {
                BaseUrls = urls, Model = modelName, ApiKey = string.IsNullOrEmpty(apiKey) ? null : apiKey, Stream = pr.GetValue(stream),
                RequestTimeout = TimeSpan.FromSeconds(pr.GetValue(timeout)), MaxRetries = pr.GetValue(retries),
                RequestsPerMinute = pr.GetValue(rpm), TokensPerMinute = pr.GetValue(tpm),
            };
            if (apiKey is null) Console.WriteLine($"note: ${pr.GetValue(keyEnv)} is not set; requests carry no API key");
            return Run(new DistillRunSettings
            {
                Problems = problems, Options = options, Teacher = clientOptions, OutputDirectory = pr.GetValue(output)!,
                SharedCachePath = pr.GetValue(cache), Export = export.Build(pr), StatisticsTokenizer = tokenizer,
                StatisticsTokenizerName = pr.GetValue(report.Tokenizer)!, PriceInput = pr.GetValue(report.PriceIn), PriceOutput = pr.GetValue(report.PriceOut),
            });
        }));
        return cmd;
    }

    private static HashSet<string> ParseSet(string text, string option, string[] known)
    {
        var set = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToHashSet();
        set.Remove("none");
        foreach (var s in set)
            if (!known.Contains(s)) throw new ArgumentException($"{option}: unknown value '{s}' (known: {string.Join(", ", known)}, none)");
        return set;
    }

    private static int Run(DistillRunSettings settings)
    {
        var (options, teacher) = (settings.Options, settings.Teacher);
        Console.WriteLine($"distill: {settings.Problems.Count:N0} problems, {options.Mode switch { DistillMode.OneCall => "one-call", _ => "two-call" }} mode, teacher {teacher.Model} at " +
            $"{string.Join(", ", teacher.BaseUrls)}, prompts {options.Prompts.Version}, concurrency {options.Concurrency}");
        using var cts = Cli.CancelOnStopSignal("stopping; finished rows and cached answers are kept");
        DistillRunResult result = null!;
        if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            AnsiConsole.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("starting", maxValue: Math.Max(1, settings.Problems.Count));
                    result = DistillRun.RunAsync(settings, p =>
                    {
                        task.MaxValue = Math.Max(1, p.Total);
                        task.Value = p.Done;
                        task.Description = Markup.Escape(DistillRun.ProgressLine(p));
                    }, cts.Token).GetAwaiter().GetResult();
                });
        }
        else
        {
            var last = DateTime.MinValue;
            result = DistillRun.RunAsync(settings, p =>
            {
                if ((DateTime.UtcNow - last).TotalSeconds < 5 && p.Done < p.Total) return;
                last = DateTime.UtcNow;
                Console.WriteLine(DistillRun.ProgressLine(p));
            }, cts.Token).GetAwaiter().GetResult();
        }
        Console.WriteLine(DistillRun.Summary(result));
        if (result.Outputs is not { } outputs)
        {
            AnsiConsole.MarkupLine("[yellow]Stopped: rerun the same command to continue (cached answers are not re-sent).[/]");
            return Cli.ExitInterrupted;
        }
        PrintOutputs(outputs, settings.OutputDirectory);
        return 0;
    }

    private static void PrintOutputs(DistillOutputs outputs, string outDir)
    {
        foreach (var w in outputs.Export.Warnings) Console.WriteLine($"note: {w}");
        var stats = outputs.Statistics;
        Console.WriteLine($"Exported {outputs.Export.Rows:N0} accepted rows to {outDir}: {string.Join(", ", outputs.Export.Files.Concat(outputs.ReportFiles).Select(Path.GetFileName))}");
        var byDiff = string.Join(", ", stats.ByDifficulty.Select(g => string.Create(CultureInfo.InvariantCulture,
            $"{g.Group} {g.Rows} (answer {g.Content.Mean:F0} tok{(g.Compression > 0 ? $", {g.Compression:F1}× shorter" : "")})")));
        if (byDiff.Length > 0) Console.WriteLine($"difficulty: {byDiff}");
        if (stats.Cost is { } cost) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"estimated cost: {cost:0.####} ({stats.PromptTokens:N0} prompt + {stats.CompletionTokens:N0} completion tokens)"));
    }

    // ---- export / stats / prompts ---------------------------------------------------------------------------------
}
