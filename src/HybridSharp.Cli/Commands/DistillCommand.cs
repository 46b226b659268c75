using System.CommandLine;
using System.Globalization;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Distill;
using HybridSharp.Distill.Testing;
using Spectre.Console;

namespace HybridSharp.Cli.Commands;

/// <summary>
/// <c>hybrid distill</c>: difficulty-aware CoT distillation against an OpenAI-compatible teacher.
/// Subcommands: <c>run</c> (generate, validate, export, report; resumable), <c>export</c>, <c>stats</c>,
/// <c>prompts</c> (copy the built-in templates for editing), <c>teacher-sim</c> (local scripted teacher) and
/// <c>bench</c> (throughput against the local teacher).
/// </summary>
internal static class DistillCommand
{
    private const string DbName = "distill.db";

    public static Command Create()
    {
        var cmd = new Command("distill", "Difficulty-aware chain-of-thought distillation (LiteCoT-style) against an OpenAI-compatible teacher.");
        cmd.Subcommands.Add(RunCommand());
        cmd.Subcommands.Add(ExportCommand());
        cmd.Subcommands.Add(StatsCommand());
        cmd.Subcommands.Add(PromptsCommand());
        cmd.Subcommands.Add(TeacherSimCommand());
        cmd.Subcommands.Add(BenchCommand());
        return cmd;
    }

    // ---- shared options -------------------------------------------------------------------------------------------

    private sealed class ReportOptions
    {
        public readonly Option<string> Tokenizer = Cli.Opt("--tokenizer", "tokenizer for length statistics: byte, hf (with --tokenizer-dir) or tiktoken:<encoding>", "tiktoken:cl100k_base");
        public readonly Option<string?> TokenizerDir = Cli.OptNoDefault<string?>("--tokenizer-dir", "folder with tokenizer.json (for --tokenizer hf)");
        public readonly Option<double?> PriceIn = Cli.OptNoDefault<double?>("--price-input", "price per 1M prompt tokens (cost estimate)");
        public readonly Option<double?> PriceOut = Cli.OptNoDefault<double?>("--price-output", "price per 1M completion tokens (cost estimate)");
        public IEnumerable<Option> All => [Tokenizer, TokenizerDir, PriceIn, PriceOut];
        public ITokenizer CreateTokenizer(ParseResult pr) => TokenizerFactory.Create(pr.GetValue(Tokenizer)!, pr.GetValue(TokenizerDir));
    }

    private sealed class ExportFlags
    {
        public readonly Option<string?> SftSystem = Cli.OptNoDefault<string?>("--sft-system", "system prompt for SFT exports: 'generation' (the DAP prompt of each row), a text, or omit for none");
        public readonly Option<string> DatasetName = Cli.Opt("--dataset-name", "dataset name in LLaMA-Factory's dataset_info.json", "distilled");
        public readonly Option<bool> NoParquet = Cli.Opt("--no-parquet", "skip sft.parquet", false);
        public readonly Option<string?> Student = Cli.OptNoDefault<string?>("--student",
            "a student model or HF tokenizer directory: SFT rows also get \"text\" (the conversation rendered with its chat template) and \"tokens\"");
        public readonly Option<string?> StudentTemplate = Cli.OptNoDefault<string?>("--student-chat-template", "with --student: a Jinja chat template file to use instead of the student's");
        public IEnumerable<Option> All => [SftSystem, DatasetName, NoParquet, Student, StudentTemplate];
        public ExportOptions Build(ParseResult pr)
        {
            var sys = pr.GetValue(SftSystem);
            StudentFormat? student = null;
            if (pr.GetValue(Student) is { } dir)
            {
                if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--student: directory not found: {dir}");
                if (Data.Tokenizers.TokenizerKinds.Detect(dir) is null)
                    throw new FileNotFoundException($"--student: no tokenizer in {dir} (expected tokenizer.json or a HybridSharp tokenizer_config.json)");
                var tokenizer = TokenizerFactory.Load(dir);
                student = new StudentFormat(ChatTemplate.For(tokenizer, dir, pr.GetValue(StudentTemplate)), tokenizer);
            }
            else if (pr.GetValue(StudentTemplate) is not null) throw new ArgumentException("--student-chat-template needs --student DIR");
            return new ExportOptions
            {
                Student = student,
                UseGenerationPrompt = sys == "generation",
                SftSystemPrompt = sys == "generation" ? null : sys,
                DatasetName = pr.GetValue(DatasetName)!,
                Parquet = !pr.GetValue(NoParquet),
            };
        }
    }

    // ---- run ------------------------------------------------------------------------------------------------------

    private static Command RunCommand()
    {
        var inputs = new Argument<string[]>("inputs") { Description = ".jsonl or .parquet files with problems", Arity = ArgumentArity.OneOrMore };
        var output = Cli.Opt("--out", $"output folder ({DbName}, exports, report.md); rerunning the same command resumes", "distilled", "-o");
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
        var cache = Cli.OptNoDefault<string?>("--cache", $"response cache database to share across runs (default: <out>/{DbName})");
        var report = new ReportOptions();
        var export = new ExportFlags();
        var cmd = new Command("run", "Distill: generate with the teacher, validate, label difficulty, export and report. Resumable; cached calls are never re-sent.")
        {
            inputs, output, baseUrl, model, keyEnv, mode, promptDir, problemField, referenceField, idField, longCotField, domainField, domain,
            filters, validators, keepUnknown, requireReasoning, maxChars, maxSolTokens, noRefRewrite, dedup, threshold, evalSet, evalField,
            concurrency, rpm, tpm, timeout, retries, stream, maxTokens, maxTokensScope, temperature, topP, seed, onFailure, limit, cache,
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
            var problems = ProblemReader.Read(pr.GetValue(inputs)!, fields);
            if (problems.Count == 0) throw new ArgumentException("the input holds no problems");
            var evalTexts = new List<string>();
            foreach (var file in pr.GetValue(evalSet) ?? [])
                evalTexts.AddRange(ProblemReader.Read([file], new ProblemFields { Problem = pr.GetValue(evalField)!, Id = null, Domain = null })
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
            var outDir = pr.GetValue(output)!;
            return Run(problems, options, clientOptions, outDir, pr.GetValue(cache), tokenizer, pr.GetValue(report.Tokenizer)!,
                pr.GetValue(report.PriceIn), pr.GetValue(report.PriceOut), export.Build(pr), apiKey is null ? pr.GetValue(keyEnv) : null);
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

    private static int Run(List<ProblemRecord> problems, DistillOptions options, TeacherClientOptions clientOptions, string outDir, string? cachePath,
        ITokenizer tokenizer, string tokenizerName, double? priceIn, double? priceOut, ExportOptions exportOptions, string? missingKeyEnv)
    {
        Directory.CreateDirectory(outDir);
        using var store = new DistillStore(Path.Combine(outDir, DbName));
        using var sharedCache = cachePath is null ? null : new DistillStore(cachePath);
        using var client = new TeacherClient(clientOptions);
        var pipeline = new DistillPipeline(client, store, options, sharedCache);
        if (missingKeyEnv is not null) Console.WriteLine($"note: ${missingKeyEnv} is not set; requests carry no API key");
        Console.WriteLine($"distill: {problems.Count:N0} problems, {options.Mode switch { DistillMode.OneCall => "one-call", _ => "two-call" }} mode, teacher {clientOptions.Model} at " +
            $"{string.Join(", ", clientOptions.BaseUrls)}, prompts {options.Prompts.Version}, concurrency {options.Concurrency}");

        using var cts = Cli.CancelOnCtrlC("stopping; finished rows and cached answers are kept");
        DistillProgress result;
        bool interactive = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        if (interactive)
        {
            result = null!;
            AnsiConsole.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("starting", maxValue: Math.Max(1, problems.Count));
                    result = pipeline.RunAsync(problems, p =>
                    {
                        task.MaxValue = Math.Max(1, p.Total);
                        task.Value = p.Done;
                        task.Description = Markup.Escape(ProgressLine(p));
                    }, cts.Token).GetAwaiter().GetResult();
                });
        }
        else
        {
            var last = DateTime.MinValue;
            result = pipeline.RunAsync(problems, p =>
            {
                if ((DateTime.UtcNow - last).TotalSeconds < 5 && p.Done < p.Total) return;
                last = DateTime.UtcNow;
                Console.WriteLine(ProgressLine(p));
            }, cts.Token).GetAwaiter().GetResult();
        }
        Console.WriteLine(Summary(result, client));
        if (result.Cancelled)
        {
            AnsiConsole.MarkupLine("[yellow]Stopped: rerun the same command to continue (cached answers are not re-sent).[/]");
            return Cli.ExitInterrupted;
        }
        var rows = store.Rows(pipeline.Fingerprint(options.Limit is { } l ? problems.Take(l).ToList() : problems)).Select(DistillRow.FromJson).ToList();
        WriteOutputs(rows, outDir, exportOptions, tokenizer, tokenizerName, priceIn, priceOut, result);
        return 0;
    }

    private static void WriteOutputs(List<DistillRow> rows, string outDir, ExportOptions exportOptions, ITokenizer tokenizer, string tokenizerName,
        double? priceIn, double? priceOut, DistillProgress? run)
    {
        var export = DistillExporter.Export(rows, outDir, exportOptions);
        foreach (var w in export.Warnings) Console.WriteLine($"note: {w}");
        var stats = DistillStatistics.Compute(rows, tokenizer, tokenizerName, priceIn, priceOut);
        var files = DistillReport.Write(stats, outDir, run: run);
        Console.WriteLine($"Exported {export.Rows:N0} accepted rows to {outDir}: {string.Join(", ", export.Files.Concat(files).Select(Path.GetFileName))}");
        var byDiff = string.Join(", ", stats.ByDifficulty.Select(g => string.Create(CultureInfo.InvariantCulture,
            $"{g.Group} {g.Rows} (answer {g.Content.Mean:F0} tok{(g.Compression > 0 ? $", {g.Compression:F1}× shorter" : "")})")));
        if (byDiff.Length > 0) Console.WriteLine($"difficulty: {byDiff}");
        if (stats.Cost is { } cost) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"estimated cost: {cost:0.####} ({stats.PromptTokens:N0} prompt + {stats.CompletionTokens:N0} completion tokens)"));
    }

    private static string ProgressLine(DistillProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"done {p.Done}/{p.Total} (accepted {p.Accepted}, rejected {p.Rejected}, failed {p.Failed}; resumed {p.Resumed}, cached {p.CacheHits}) " +
        $"in flight {p.InFlight}, {p.CompletionTokensPerSecond:F0} tok/s, ETA {(p.Eta is { } e ? e.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "–")}");

    private static string Summary(DistillProgress p, TeacherClient client)
    {
        var reasons = p.Reasons.Count == 0 ? "none" : string.Join(", ", p.Reasons.Select(kv => $"{kv.Key} {kv.Value}"));
        var transient = client.TransientFailures;
        var transientText = transient.Count > 0 ? $" ({string.Join(", ", transient.Select(kv => $"{kv.Key} {kv.Value}"))})" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{p.Done}/{p.Total} done in {p.Elapsed.TotalSeconds:F1} s: accepted {p.Accepted}, rejected {p.Rejected}, failed {p.Failed} (resumed {p.Resumed}). Teacher calls: {p.CacheMisses} sent, {p.CacheHits} from cache, {p.HttpRequests} HTTP attempts, {p.Retries} retries{transientText}; {p.PromptTokens:N0} prompt + {p.CompletionTokens:N0} completion tokens. Reasons: {reasons}.");
    }

    // ---- export / stats / prompts ---------------------------------------------------------------------------------

    private static (DistillStore Store, List<DistillRow> Rows) OpenRows(string dir)
    {
        var path = Path.Combine(dir, DbName);
        if (!File.Exists(path)) throw new FileNotFoundException($"'{dir}' holds no {DbName}; run 'hybrid distill run --out {dir}' first");
        var store = new DistillStore(path);
        var fp = store.GetMeta(DistillPipeline.CurrentFingerprintKey);
        return (store, fp is null ? [] : store.Rows(fp).Select(DistillRow.FromJson).ToList());
    }

    private static Command ExportCommand()
    {
        var dir = new Argument<string>("dir") { Description = $"output folder of 'hybrid distill run' (holds {DbName})" };
        var to = Cli.OptNoDefault<string?>("--to", "write the exports here instead of <dir>");
        var export = new ExportFlags();
        var cmd = new Command("export", "Rewrite the exports (sft.jsonl, sft.parquet, sharegpt.jsonl + dataset_info.json, full.jsonl, rejected.jsonl) from the last run's rows.") { dir, to };
        foreach (var o in export.All) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            var (store, rows) = OpenRows(pr.GetValue(dir)!);
            using (store)
            {
                var result = DistillExporter.Export(rows, pr.GetValue(to) ?? pr.GetValue(dir)!, export.Build(pr));
                foreach (var w in result.Warnings) Console.WriteLine($"note: {w}");
                Console.WriteLine($"Exported {result.Rows:N0} accepted rows: {string.Join(", ", result.Files.Select(Path.GetFileName))}");
            }
            return 0;
        }));
        return cmd;
    }

    private static Command StatsCommand()
    {
        var dir = new Argument<string>("dir") { Description = $"output folder of 'hybrid distill run' (holds {DbName})" };
        var report = new ReportOptions();
        var cmd = new Command("stats", "Statistics of the last run: counts, rejection reasons, token lengths per difficulty, compression, cost; writes report.md and PNG histograms.") { dir };
        foreach (var o in report.All) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            var (store, rows) = OpenRows(pr.GetValue(dir)!);
            using (store)
            {
                var stats = DistillStatistics.Compute(rows, report.CreateTokenizer(pr), pr.GetValue(report.Tokenizer)!, pr.GetValue(report.PriceIn), pr.GetValue(report.PriceOut));
                var files = DistillReport.Write(stats, pr.GetValue(dir)!);
                Console.WriteLine(File.ReadAllText(files[0]));
            }
            return 0;
        }));
        return cmd;
    }

    private static Command PromptsCommand()
    {
        var dir = new Argument<string>("dir") { Description = "folder to write the built-in templates into" };
        var cmd = new Command("prompts", $"Write the built-in prompt templates ({PromptSet.BuiltInVersion}) to a folder; edit them and pass --prompt-dir.") { dir };
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            PromptSet.BuiltIn().WriteTo(pr.GetValue(dir)!);
            Console.WriteLine($"Wrote {string.Join(", ", PromptSet.FileNames)} to {pr.GetValue(dir)}");
            return 0;
        }));
        return cmd;
    }

    // ---- teacher-sim / bench --------------------------------------------------------------------------------------

    private static Command TeacherSimCommand()
    {
        var port = Cli.Opt("--port", "port on 127.0.0.1 (0 = any free port)", 8000);
        var latency = Cli.Opt("--latency-ms", "simulated generation time per answer", 0);
        var modelName = Cli.Opt("--model", "model id listed by /v1/models", "scripted-teacher");
        var nonReasoning = Cli.Opt("--no-reasoning", "first calls of two-call mode answer in content, not reasoning_content", false);
        var cmd = new Command("teacher-sim", "Serve the offline scripted teacher (OpenAI wire format, streaming, reasoning_content; [[teacher:429*2]]-style fault markers in the problem) until Ctrl-C.")
            { port, latency, modelName, nonReasoning };
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            if (pr.GetValue(port) is < 0 or > 65535) throw new ArgumentException("--port must be between 0 and 65535");
            using var cts = Cli.CancelOnCtrlC("stopping the teacher");
            var responder = new FaultInjectingResponder(new DapTeacherResponder { ReasoningModel = !pr.GetValue(nonReasoning) });
            var server = ScriptedTeacherServer.StartAsync(responder, new ScriptedTeacherOptions
            {
                Port = pr.GetValue(port), Latency = TimeSpan.FromMilliseconds(pr.GetValue(latency)), Model = pr.GetValue(modelName)!,
            }).GetAwaiter().GetResult();
            Console.WriteLine($"scripted teacher listening on {server.BaseUrl} (Ctrl-C to stop)");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, server.Stopping);
            try { Task.Delay(Timeout.Infinite, stop.Token).GetAwaiter().GetResult(); }
            catch (OperationCanceledException) { }
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Console.WriteLine($"served {server.Requests.Count} requests");
            return Cli.ExitInterrupted;
        }));
        return cmd;
    }

    private static Command BenchCommand()
    {
        var problems = Cli.Opt("--problems", "problems per configuration", 1000);
        var concurrency = Cli.Opt("--concurrency", "comma-separated concurrency levels", "1,8,64");
        var latency = Cli.Opt("--latency-ms", "simulated teacher time per answer", 0);
        var stream = Cli.Opt("--stream", "use SSE streaming", false);
        var work = Cli.Opt("--work-dir", "scratch folder (deleted per configuration)", Path.Combine(Path.GetTempPath(), "hybrid-distill-bench"));
        var cmd = new Command("bench", "Throughput of the pipeline against the local scripted teacher: problems/s per concurrency and client overhead per request.")
            { problems, concurrency, latency, stream, work };
        cmd.SetAction(pr => Cli.Guard(torch: false, body: () =>
        {
            var levels = pr.GetValue(concurrency)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"--concurrency: '{s}' is not a positive integer"))
                .ToList();
            if (pr.GetValue(problems) < 1) throw new ArgumentException("--problems must be at least 1");
            var results = DistillBenchmark.RunAsync(pr.GetValue(problems), levels, TimeSpan.FromMilliseconds(pr.GetValue(latency)), pr.GetValue(stream),
                pr.GetValue(work)!, Console.WriteLine).GetAwaiter().GetResult();
            Console.WriteLine();
            Console.WriteLine("| concurrency | problems | seconds | problems/s | server ms/request | client ms/request | overhead ms/request | cached rerun ms/problem |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            foreach (var r in results)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {r.Concurrency} | {r.Problems} | {r.Seconds:F2} | {r.ProblemsPerSecond:F1} | {r.ServerMsPerRequest:F2} | {r.ClientMsPerRequest:F2} | {r.OverheadMsPerRequest:F2} | {r.CachedRerunMsPerProblem:F3} |"));
            return 0;
        }));
        return cmd;
    }
}
