using HybridSharp.Distill;
using System.Diagnostics;
using HybridSharp.Tasks;

namespace HybridSharp.TeacherSim;

/// <summary>One measured configuration of <see cref="DistillBenchmark"/>.</summary>
/// <param name="Concurrency">In-flight requests.</param>
/// <param name="Problems">Problems distilled (one call each, all sent).</param>
/// <param name="Seconds">Wall time of the run.</param>
/// <param name="ServerMsPerRequest">Mean time inside the server's handler (simulated latency + answer writing).</param>
/// <param name="ClientMsPerRequest">Wall time × concurrency ÷ problems: the time one request slot was busy per problem.</param>
/// <param name="CachedRerunMsPerProblem">A second run over the same problems, all answered from the cache: pipeline cost without the network.</param>
public sealed record DistillBenchResult(int Concurrency, int Problems, double Seconds, double ServerMsPerRequest, double ClientMsPerRequest, double CachedRerunMsPerProblem)
{
    public double ProblemsPerSecond => Problems / Seconds;
    /// <summary>Client-side time per request beyond the server's handler (HTTP, JSON, cache write, parse, validate, row write).</summary>
    public double OverheadMsPerRequest => ClientMsPerRequest - ServerMsPerRequest;
}

/// <summary>
/// Throughput of the distill pipeline against the local scripted teacher (one-call mode, arithmetic problems):
/// problems per second per concurrency and the client-side overhead per request.
/// </summary>
public static class DistillBenchmark
{
    public static async Task<IReadOnlyList<DistillBenchResult>> RunAsync(int problems, IReadOnlyList<int> concurrencies, TimeSpan latency, bool stream,
        string workDirectory, Action<string>? log = null, CancellationToken ct = default)
    {
        var gen = new ArithmeticGenerator(2024);
        var list = Enumerable.Range(0, problems).Select(i =>
        {
            var p = gen.Generate(1 + i % 8);
            return new ProblemRecord($"b{i:D6}", i, p.Question, $"\\boxed{{{p.Answer}}}", null, "math");
        }).ToList();
        var results = new List<DistillBenchResult>();
        var options = new DistillOptions { Dedup = null };
        // warm-up: JIT, Kestrel, SQLite
        await RunOnce(list.Take(Math.Min(50, problems)).ToList(), 4, latency, stream, Path.Combine(workDirectory, "warmup"), options, ct).ConfigureAwait(false);
        foreach (var c in concurrencies)
        {
            var r = await RunOnce(list, c, latency, stream, Path.Combine(workDirectory, $"c{c}"), options, ct).ConfigureAwait(false);
            log?.Invoke($"concurrency {c}: {r.ProblemsPerSecond:F1} problems/s, overhead {r.OverheadMsPerRequest:F2} ms/request, cached rerun {r.CachedRerunMsPerProblem:F3} ms/problem");
            results.Add(r);
        }
        return results;
    }

    private static async Task<DistillBenchResult> RunOnce(List<ProblemRecord> problems, int concurrency, TimeSpan latency, bool stream, string dir,
        DistillOptions options, CancellationToken ct)
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        await using var server = await ScriptedTeacherServer.StartAsync(new DapTeacherResponder(), new ScriptedTeacherOptions { Latency = latency }, ct).ConfigureAwait(false);
        using var client = new TeacherClient(new TeacherClientOptions { BaseUrls = [server.BaseUrl], Model = "scripted-teacher", Stream = stream });
        using var store = new DistillStore(Path.Combine(dir, "distill.db"));
        var o = options with { Concurrency = concurrency };
        var sw = Stopwatch.StartNew();
        var run = await new DistillPipeline(client, store, o).RunAsync(problems, null, ct).ConfigureAwait(false);
        double seconds = sw.Elapsed.TotalSeconds;
        if (run.Accepted != problems.Count) throw new InvalidOperationException($"benchmark run accepted {run.Accepted} of {problems.Count}");
        double serverMs = server.Requests.Average(r => r.HandlerMilliseconds);
        // rerun: new fingerprint-independent cache hits (rows are finished, so force recomputation via a fresh row store)
        using var rowsOnly = new DistillStore(Path.Combine(dir, "rerun.db"));
        sw.Restart();
        await new DistillPipeline(client, rowsOnly, o, cache: store).RunAsync(problems, null, ct).ConfigureAwait(false);
        double cachedMs = sw.Elapsed.TotalMilliseconds / problems.Count;
        return new DistillBenchResult(concurrency, problems.Count, seconds, serverMs, seconds * 1000 * concurrency / problems.Count, cachedMs);
    }
}
