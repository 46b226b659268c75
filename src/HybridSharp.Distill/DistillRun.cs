using System.Globalization;
using HybridSharp.Data;

namespace HybridSharp.Distill;

/// <summary>Everything one distillation run needs (<see cref="DistillRun.RunAsync"/>).</summary>
public sealed record DistillRunSettings
{
    public required IReadOnlyList<ProblemRecord> Problems { get; init; }
    public required DistillOptions Options { get; init; }
    public required TeacherClientOptions Teacher { get; init; }
    /// <summary>Where distill.db, the exports and the report go.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>A teacher-answer cache shared between runs (SQLite file), or null.</summary>
    public string? SharedCachePath { get; init; }
    public required ExportOptions Export { get; init; }
    /// <summary>The tokenizer the length statistics count with, and its name in the report.</summary>
    public required ITokenizer StatisticsTokenizer { get; init; }
    public required string StatisticsTokenizerName { get; init; }
    /// <summary>Prices per million prompt / completion tokens for the cost estimate; null = none.</summary>
    public double? PriceInput { get; init; }
    public double? PriceOutput { get; init; }
}

/// <summary>The exports and the report written from a run's rows.</summary>
public sealed record DistillOutputs(ExportResult Export, DistillStatistics Statistics, IReadOnlyList<string> ReportFiles);

/// <summary>A run's outcome: the final progress, the teacher's transient failures by kind, and the outputs (null when cancelled).</summary>
public sealed record DistillRunResult(DistillProgress Progress, IReadOnlyDictionary<string, long> TransientFailures, DistillOutputs? Outputs);

/// <summary>
/// A distillation run as one library call: generate and validate against the teacher (resumable: rows and teacher
/// answers live in <c>distill.db</c>), then export the accepted rows and write the statistics report.
/// </summary>
public static class DistillRun
{
    public const string DatabaseFile = "distill.db";

    /// <summary>Runs the pipeline; a cancelled run keeps every finished row and cached answer and writes no outputs.</summary>
    public static async Task<DistillRunResult> RunAsync(DistillRunSettings s, Action<DistillProgress>? progress = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(s.OutputDirectory);
        using var store = new DistillStore(Path.Combine(s.OutputDirectory, DatabaseFile));
        using var sharedCache = s.SharedCachePath is null ? null : new DistillStore(s.SharedCachePath);
        using var client = new TeacherClient(s.Teacher);
        var pipeline = new DistillPipeline(client, store, s.Options, sharedCache);
        var result = await pipeline.RunAsync(s.Problems, progress, cancel).ConfigureAwait(false);
        var transient = client.TransientFailures.ToDictionary();
        if (result.Cancelled) return new DistillRunResult(result, transient, null);
        var problems = s.Options.Limit is { } limit ? s.Problems.Take(limit).ToList() : s.Problems;
        var rows = store.Rows(pipeline.Fingerprint(problems)).Select(DistillRow.FromJson).ToList();
        var outputs = WriteOutputs(rows, s.OutputDirectory, s.Export, s.StatisticsTokenizer, s.StatisticsTokenizerName, s.PriceInput, s.PriceOutput, result);
        return new DistillRunResult(result, transient, outputs);
    }

    /// <summary>Exports <paramref name="rows"/> and writes the report (with the run's counts when <paramref name="run"/> is given).</summary>
    public static DistillOutputs WriteOutputs(IReadOnlyList<DistillRow> rows, string directory, ExportOptions export, ITokenizer tokenizer,
        string tokenizerName, double? priceInput, double? priceOutput, DistillProgress? run = null)
    {
        var exported = DistillExporter.Export(rows, directory, export);
        var stats = DistillStatistics.Compute(rows, tokenizer, tokenizerName, priceInput, priceOutput);
        var files = DistillReport.Write(stats, directory, run: run);
        return new DistillOutputs(exported, stats, files);
    }

    /// <summary>The store of a run's folder and the rows of its last run.</summary>
    public static (DistillStore Store, List<DistillRow> Rows) OpenRows(string directory)
    {
        var path = Path.Combine(directory, DatabaseFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"'{directory}' holds no {DatabaseFile}; run a distillation into it first", path);
        var store = new DistillStore(path);
        var fingerprint = store.GetMeta(DistillPipeline.CurrentFingerprintKey);
        return (store, fingerprint is null ? [] : store.Rows(fingerprint).Select(DistillRow.FromJson).ToList());
    }

    /// <summary>
    /// The last run's rows of every folder (the shards of one distillation), in folder order. A problem id in two
    /// folders is an error: shards hold disjoint problems.
    /// </summary>
    public static List<DistillRow> MergeRows(IEnumerable<string> directories)
    {
        var rows = new List<DistillRow>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var dir in directories)
        {
            var (store, part) = OpenRows(dir);
            using (store)
                foreach (var row in part)
                {
                    if (seen.TryGetValue(row.Id, out var first))
                        throw new InvalidDataException($"problem '{row.Id}' is in both {first} and {dir}: merge the folders of one sharded run (disjoint shares)");
                    seen[row.Id] = dir;
                    rows.Add(row);
                }
        }
        return rows;
    }

    /// <summary>One line of progress.</summary>
    public static string ProgressLine(DistillProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"done {p.Done}/{p.Total} (accepted {p.Accepted}, rejected {p.Rejected}, failed {p.Failed}; resumed {p.Resumed}, cached {p.CacheHits}) " +
        $"in flight {p.InFlight}, {p.CompletionTokensPerSecond:F0} tok/s, ETA {(p.Eta is { } e ? e.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "–")}");

    /// <summary>The end-of-run summary: counts, teacher calls, tokens and rejection reasons.</summary>
    public static string Summary(DistillRunResult r)
    {
        var p = r.Progress;
        var reasons = p.Reasons.Count == 0 ? "none" : string.Join(", ", p.Reasons.Select(kv => $"{kv.Key} {kv.Value}"));
        var transientText = r.TransientFailures.Count > 0 ? $" ({string.Join(", ", r.TransientFailures.Select(kv => $"{kv.Key} {kv.Value}"))})" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{p.Done}/{p.Total} done in {p.Elapsed.TotalSeconds:F1} s: accepted {p.Accepted}, rejected {p.Rejected}, failed {p.Failed} (resumed {p.Resumed}). Teacher calls: {p.CacheMisses} sent, {p.CacheHits} from cache, {p.HttpRequests} HTTP attempts, {p.Retries} retries{transientText}; {p.PromptTokens:N0} prompt + {p.CompletionTokens:N0} completion tokens. Reasons: {reasons}.");
    }
}
