using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace HybridSharp.Distill;

/// <summary>
/// Runs distillation over a problem list: dedup/decontaminate → pre-filter → generate (one- or
/// two-call, every call through the content-addressed cache) → parse → validate → label → store one row per problem.
/// Resumable: rows already final under the same settings are skipped, cached calls are never re-sent, identical
/// in-flight calls are coalesced, and a failed row is retried on the next run.
/// </summary>
public sealed class DistillPipeline
{
    private readonly TeacherClient _teacher;
    private readonly DistillStore _store;
    private readonly DistillStore _cache;
    private readonly DistillOptions _o;
    private readonly ConcurrentDictionary<string, Lazy<Task<TeacherResponse>>> _inFlightCalls = new(StringComparer.Ordinal);
    private long _hits, _misses, _promptTokens, _completionTokens;
    private int _inFlight;

    public DistillPipeline(TeacherClient teacher, DistillStore store, DistillOptions options, DistillStore? cache = null)
    {
        _teacher = teacher;
        _store = store;
        _cache = cache ?? store;
        _o = options;
        if (options.Concurrency < 1) throw new ArgumentException("concurrency must be at least 1");
        SettingsFingerprint = PromptSet.Sha256Hex(JsonSerializer.Serialize(new
        {
            model = teacher.Model,
            mode = options.Mode.ToString(),
            prompt_version = options.Prompts.Version,
            prompts = options.Prompts.TemplatesSha256,
            generation = options.Generation,
            options.ReferenceInRewrite,
            options.UseInputLongCot,
            validators = options.Validators,
            filters = options.SourceFilters,
            options.PreFilter,
            dedup = options.Dedup is null ? null : new
            {
                options.Dedup.Exact, options.Dedup.Fuzzy, options.Dedup.Threshold, options.Dedup.WithinDomain,
                eval = PromptSet.Sha256Hex(string.Join("\0", options.Dedup.EvalTexts)),
            },
            budget_tokenizer = options.BudgetTokenizer?.GetType().Name,
        }));
    }

    /// <summary>Hash of every setting that changes a row's content.</summary>
    public string SettingsFingerprint { get; }

    /// <summary>Fingerprint under which this input's rows are stored: settings + the input's id list.</summary>
    public string Fingerprint(IReadOnlyList<ProblemRecord> problems) =>
        PromptSet.Sha256Hex(SettingsFingerprint + "\n" + string.Join("\n", problems.Select(p => p.Id)))[..32];

    public const string CurrentFingerprintKey = "current_fingerprint";

    public async Task<DistillProgress> RunAsync(IReadOnlyList<ProblemRecord> input, Action<DistillProgress>? progress = null, CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        var problems = _o.Limit is { } limit ? input.Take(limit).ToList() : input.ToList();
        var fingerprint = Fingerprint(problems);
        _store.SetMeta(CurrentFingerprintKey, fingerprint);
        _store.SetMeta("teacher", _teacher.Model);
        _store.SetMeta("prompt_version", _o.Prompts.Version);
        _store.SetMeta("mode", _o.Mode.ToString());
        var finished = _store.FinishedIds(fingerprint);
        long requestsAtStart = _teacher.Requests, retriesAtStart = _teacher.Retries;

        int accepted = 0, rejected = 0, failed = 0, resumed = 0;
        var reasons = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);

        // Pre-generation drops are recomputed every run (cheap; they depend on the whole input).
        Dictionary<long, Rejection> drops;
        try { drops = _o.Dedup is null ? [] : FindDrops(problems, fingerprint, ct); }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            var early = new DistillProgress { Total = problems.Count, Elapsed = clock.Elapsed, Cancelled = true };
            progress?.Invoke(early);
            return early;
        }
        var todo = new List<ProblemRecord>();
        var previous = finished.Count == 0 ? null : _store.Rows(fingerprint).Select(DistillRow.FromJson).ToDictionary(r => r.Id, StringComparer.Ordinal);
        foreach (var p in problems)
        {
            Rejection? drop = drops.GetValueOrDefault(p.Index);
            if (drop is null && _o.PreFilter && _o.Validators.Source && _o.SourceFilters.Any && SourceFilter.Check(p, _o.SourceFilters) is { } why)
                drop = new Rejection(RejectionCodes.Source, why + " (not sent)");
            if (drop is not null)
            {
                var row = BaseRow(p) with { Status = DistillRow.Rejected, Rejections = [drop] };
                _store.PutRow(p.Id, p.Index, fingerprint, row.Status, row.ToJson());
                rejected++;
                resumed++;
                reasons.AddOrUpdate(drop.Code, 1, (_, n) => n + 1);
                continue;
            }
            if (finished.Contains(p.Id))
            {
                var row = previous![p.Id];
                if (row.Status == DistillRow.Accepted) accepted++; else rejected++;
                if (row.Reason is { } reason) reasons.AddOrUpdate(reason, 1, (_, n) => n + 1);
                resumed++;
                continue;
            }
            todo.Add(p);
        }

        DistillProgress Snapshot(bool cancelled = false) => new()
        {
            Total = problems.Count, Resumed = resumed, Done = accepted + rejected + failed,
            Accepted = accepted, Rejected = rejected, Failed = failed, InFlight = Volatile.Read(ref _inFlight),
            CacheHits = Interlocked.Read(ref _hits), CacheMisses = Interlocked.Read(ref _misses),
            HttpRequests = _teacher.Requests - requestsAtStart, Retries = _teacher.Retries - retriesAtStart,
            PromptTokens = Interlocked.Read(ref _promptTokens), CompletionTokens = Interlocked.Read(ref _completionTokens),
            Elapsed = clock.Elapsed, Reasons = new SortedDictionary<string, int>(reasons), Cancelled = cancelled,
        };

        using var stopTicker = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var ticker = progress is null ? Task.CompletedTask : Task.Run(async () =>
        {
            try
            {
                while (!stopTicker.IsCancellationRequested)
                {
                    progress(Snapshot());
                    await Task.Delay(_o.ProgressInterval, stopTicker.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) { }
        }, CancellationToken.None);

        bool cancelledRun = false;
        try
        {
            await Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = _o.Concurrency, CancellationToken = ct }, async (p, token) =>
            {
                Interlocked.Increment(ref _inFlight);
                try
                {
                    var row = await ProcessAsync(p, token).ConfigureAwait(false);
                    await _store.PutRowAsync(p.Id, p.Index, fingerprint, row.Status, row.ToJson()).ConfigureAwait(false);
                    switch (row.Status)
                    {
                        case DistillRow.Accepted: Interlocked.Increment(ref accepted); break;
                        case DistillRow.Rejected: Interlocked.Increment(ref rejected); break;
                        default: Interlocked.Increment(ref failed); break;
                    }
                    if (row.Reason is { } reason) reasons.AddOrUpdate(reason, 1, (_, n) => n + 1);
                    if (row.Status == DistillRow.Failed && _o.OnFailure == FailurePolicy.Fail)
                        throw new TeacherFailedException($"problem {p.Id}: {row.Rejections[0].Detail}");
                }
                finally { Interlocked.Decrement(ref _inFlight); }
            }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            cancelledRun = true;
        }
        finally
        {
            await stopTicker.CancelAsync().ConfigureAwait(false);
            await ticker.ConfigureAwait(false);
        }
        var final = Snapshot(cancelledRun);
        progress?.Invoke(final);
        return final;
    }

    /// <summary>Dedup/decontamination drops, cached in the store per input text and settings (a resume skips the O(n log n)–O(n²) search).</summary>
    private Dictionary<long, Rejection> FindDrops(List<ProblemRecord> problems, string fingerprint, CancellationToken ct)
    {
        using var textHash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var p in problems)
        {
            textHash.AppendData(Encoding.UTF8.GetBytes(p.Domain));
            textHash.AppendData([0]);
            textHash.AppendData(Encoding.UTF8.GetBytes(p.Problem));
            textHash.AppendData([0]);
        }
        var key = "drops:" + fingerprint + ":" + Convert.ToHexStringLower(textHash.GetHashAndReset())[..32];
        if (_store.GetMeta(key) is { } saved)
            return JsonSerializer.Deserialize<Dictionary<long, Rejection>>(saved, DistillRow.Json) ?? [];
        var drops = NearDuplicates.Find(problems, _o.Dedup!, ct);
        _store.SetMeta(key, JsonSerializer.Serialize(drops, DistillRow.Json));
        return drops;
    }

    private DistillRow BaseRow(ProblemRecord p) => new()
    {
        Id = p.Id, Index = p.Index, Domain = p.Domain, Status = DistillRow.Rejected, Problem = p.Problem, Reference = p.Reference,
        Mode = _o.Mode == DistillMode.OneCall ? "one-call" : "two-call", Teacher = _teacher.Model, PromptVersion = _o.Prompts.Version,
        MaxTokens = _o.Generation.MaxTokens, MaxTokensScope = _o.Generation.MaxTokensScope, Validators = _o.Validators.Describe(),
    };

    private Dictionary<string, string?> Values(ProblemRecord p, string? longCot = null, bool reference = true) => new(StringComparer.Ordinal)
    {
        ["problem"] = p.Problem, ["reference"] = reference ? p.Reference : null, ["long_cot"] = longCot,
    };

    /// <summary>Generates, parses and validates one problem. Teacher failures become a failed row.</summary>
    public async Task<DistillRow> ProcessAsync(ProblemRecord p, CancellationToken ct)
    {
        var row = BaseRow(p);
        var calls = new List<CallRecord>();
        string system, longCot = "";
        string? longSource = null;
        TeacherResponse final;
        var rejections = new List<Rejection>();
        try
        {
            if (_o.Mode == DistillMode.OneCall)
            {
                system = _o.Prompts.Render("system.md", Values(p));
                final = await CallAsync("dap", [new("system", system), new("user", _o.Prompts.Render("user.md", Values(p)))], calls, ct).ConfigureAwait(false);
                if (final.Reasoning.Length > 0) { longCot = final.Reasoning; longSource = "reasoning"; }
            }
            else
            {
                if (_o.UseInputLongCot && !string.IsNullOrWhiteSpace(p.LongCot)) { longCot = p.LongCot; longSource = "input"; }
                else
                {
                    var first = await CallAsync("long", [new("user", _o.Prompts.Render("long.md", Values(p)))], calls, ct).ConfigureAwait(false);
                    (longCot, longSource) = first.Reasoning.Trim().Length > 0 ? (first.Reasoning, "reasoning") : (first.Content, "content");
                }
                system = _o.Prompts.Render("rewrite-system.md", Values(p));
                if (string.IsNullOrWhiteSpace(longCot))
                {
                    return row with
                    {
                        Calls = calls, Usage = SumUsage(calls), SystemPrompt = system, FinishReason = calls.LastOrDefault()?.FinishReason,
                        Rejections = [new Rejection(RejectionCodes.Empty, "the first call returned no long trace (rewrite not sent)")],
                    };
                }
                var user = _o.Prompts.Render("rewrite-user.md", Values(p, longCot, _o.ReferenceInRewrite));
                final = await CallAsync("rewrite", [new("system", system), new("user", user)], calls, ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is TeacherTransientException or TeacherRequestException)
        {
            var code = ex is TeacherTransientException t ? t.Code : $"http_{((TeacherRequestException)ex).Status}";
            return row with
            {
                Status = DistillRow.Failed, Calls = calls, Usage = SumUsage(calls),
                Rejections = [new Rejection(RejectionCodes.TeacherError, $"{code}: {ex.Message}")],
            };
        }

        var answer = DapParser.Parse(final.Content);
        var difficulty = DifficultyLabeler.Label(answer.Thought);
        rejections.AddRange(Validate(p, answer, final.Content, longCot, calls, difficulty));
        return row with
        {
            Status = rejections.Count == 0 ? DistillRow.Accepted : DistillRow.Rejected,
            Rejections = rejections, Difficulty = difficulty, LongCot = longCot, LongCotSource = longSource,
            Content = final.Content.Trim(), Thought = answer.Thought, Solution = answer.Solution, SystemPrompt = system,
            FinishReason = final.FinishReason, Usage = SumUsage(calls), Calls = calls,
        };
    }

    /// <summary>Runs the enabled validators; every failing one contributes a rejection.</summary>
    public IEnumerable<Rejection> Validate(ProblemRecord p, DapAnswer answer, string content, string longCot, IReadOnlyList<CallRecord> calls, string difficulty)
    {
        var v = _o.Validators;
        if (v.Truncated)
            foreach (var c in calls.Where(c => c.FinishReason == "length"))
                yield return new Rejection(RejectionCodes.Truncated, $"{c.Call} call stopped at max_tokens ({_o.Generation.MaxTokens})");
        bool empty = string.IsNullOrWhiteSpace(content);
        if (v.Empty && empty) yield return new Rejection(RejectionCodes.Empty, "empty content");
        if (v.Empty && v.RequireReasoning && string.IsNullOrWhiteSpace(longCot)) yield return new Rejection(RejectionCodes.Empty, "empty long trace");
        if (empty) yield break;
        if (v.Format && answer.FormatError is { } fe) yield return new Rejection(RejectionCodes.Format, fe);
        if (v.Framework)
        {
            if (difficulty == DifficultyLabeler.Unknown)
            {
                if (!v.KeepUnknown) yield return new Rejection(RejectionCodes.Framework, "headers match no framework (difficulty unknown)");
            }
            else if (DifficultyLabeler.FrameworkMismatch(answer.Thought, difficulty) is { } fm)
                yield return new Rejection(RejectionCodes.Framework, fm);
        }
        if (v.Budget)
        {
            if (v.MaxSolutionChars is { } maxChars && answer.Solution.Length > maxChars)
                yield return new Rejection(RejectionCodes.Budget, $"solution has {answer.Solution.Length} characters (limit {maxChars})");
            if (v.MaxSolutionTokens is { } maxTokens && _o.BudgetTokenizer is { } tok && tok.Encode(answer.Solution).Length is var n && n > maxTokens)
                yield return new Rejection(RejectionCodes.Budget, $"solution has {n} tokens (limit {maxTokens})");
        }
        if (v.Answer && AnswerCheck.Mismatch(answer.Solution.Length > 0 ? answer.Solution : content, p.Reference, p.Domain) is { } am)
            yield return new Rejection(RejectionCodes.Answer, am);
        if (v.Source && _o.SourceFilters.Any && SourceFilter.Check(p, _o.SourceFilters) is { } sf)
            yield return new Rejection(RejectionCodes.Source, sf);
    }

    private static TeacherUsage? SumUsage(List<CallRecord> calls)
    {
        var with = calls.Where(c => c.Usage is not null).Select(c => c.Usage!).ToList();
        if (with.Count == 0) return null;
        int? reasoning = with.Any(u => u.ReasoningTokens is not null) ? with.Sum(u => u.ReasoningTokens ?? 0) : null;
        return new TeacherUsage(with.Sum(u => u.PromptTokens), with.Sum(u => u.CompletionTokens), reasoning);
    }

    /// <summary>Cache key: SHA-256 of canonical JSON of model, messages, generation parameters and prompt version.</summary>
    public string CacheKey(IReadOnlyList<TeacherMessage> messages)
    {
        var g = _o.Generation;
        var canonical = JsonSerializer.Serialize(new object?[]
        {
            _teacher.Model, messages.Select(m => new[] { m.Role, m.Content }).ToArray(),
            g.Temperature, g.TopP, g.MaxTokens, g.MaxTokensScope, g.Seed, _o.Prompts.Version,
        });
        return PromptSet.Sha256Hex(canonical);
    }

    private async Task<TeacherResponse> CallAsync(string name, TeacherMessage[] messages, List<CallRecord> calls, CancellationToken ct)
    {
        var key = CacheKey(messages);
        var promptHash = PromptSet.Sha256Hex(JsonSerializer.Serialize(messages));
        TeacherResponse response;
        if (await _cache.GetResponseAsync(key, ct).ConfigureAwait(false) is { } cached)
        {
            Interlocked.Increment(ref _hits);
            response = JsonSerializer.Deserialize<TeacherResponse>(cached, DistillRow.Json)!;
        }
        else
        {
            var lazy = _inFlightCalls.GetOrAdd(key, k => new Lazy<Task<TeacherResponse>>(() => SendAndCacheAsync(k, messages, ct)));
            try { response = await lazy.Value.WaitAsync(ct).ConfigureAwait(false); }
            finally { _inFlightCalls.TryRemove(new KeyValuePair<string, Lazy<Task<TeacherResponse>>>(key, lazy)); }
        }
        calls.Add(new CallRecord(name, key, promptHash, response.FinishReason, response.Usage));
        return response;
    }

    private async Task<TeacherResponse> SendAndCacheAsync(string key, TeacherMessage[] messages, CancellationToken ct)
    {
        var response = await _teacher.CompleteAsync(messages, _o.Generation, ct).ConfigureAwait(false);
        await _cache.PutResponseAsync(key, _teacher.Model, _teacher.RequestBody(messages, _o.Generation, stream: false), JsonSerializer.Serialize(response, DistillRow.Json));
        Interlocked.Increment(ref _misses);
        if (response.Usage is { } u)
        {
            Interlocked.Add(ref _promptTokens, u.PromptTokens);
            Interlocked.Add(ref _completionTokens, u.CompletionTokens);
        }
        return response;
    }
}

/// <summary>Thrown by a run with <see cref="FailurePolicy.Fail"/> when a teacher call failed after all retries.</summary>
public sealed class TeacherFailedException(string message) : Exception(message);
