using System.Text.Json;
using HybridSharp.Distill;
using HybridSharp.TeacherSim;
using Xunit;

namespace HybridSharp.Tests.Distill;

public class DistillPipelineTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OneCall_AgainstScriptedServer_ValidatesRetriesAndExportsEachRowOnce(bool stream)
    {
        using var dir = new TempDir();
        await using var server = await DistillKit.Server(hang: TimeSpan.FromSeconds(3));
        var problems = DistillKit.Arithmetic(16);
        var faults = DistillKit.AddFaults(problems, "429*2", "500*1", "hang*1", "truncate*1", "malformed*1",
            "wrong", "nosections", "length", "empty", "nosolution", "400");
        using var client = DistillKit.Client(server, stream, timeout: TimeSpan.FromMilliseconds(700));
        using var store = new DistillStore(dir["distill.db"]);
        var pipeline = new DistillPipeline(client, store, new DistillOptions { Concurrency = 4 });
        var progressSeen = 0;
        var result = await pipeline.RunAsync(problems, _ => Interlocked.Increment(ref progressSeen));

        Assert.False(result.Cancelled);
        Assert.True(progressSeen > 0);
        var rows = store.Rows(pipeline.Fingerprint(problems)).Select(DistillRow.FromJson).ToDictionary(r => r.Id);
        Assert.Equal(problems.Count, rows.Count);
        // transient faults recover; content faults are rejected with their reason; a 400 fails fast
        var expected = new Dictionary<string, (string Status, string? Code)>
        {
            ["429*2"] = (DistillRow.Accepted, null), ["500*1"] = (DistillRow.Accepted, null), ["hang*1"] = (DistillRow.Accepted, null),
            ["truncate*1"] = (DistillRow.Accepted, null), ["malformed*1"] = (DistillRow.Accepted, null),
            ["wrong"] = (DistillRow.Rejected, RejectionCodes.Answer), ["nosections"] = (DistillRow.Rejected, RejectionCodes.Framework),
            ["length"] = (DistillRow.Rejected, RejectionCodes.Truncated), ["empty"] = (DistillRow.Rejected, RejectionCodes.Empty),
            ["nosolution"] = (DistillRow.Rejected, RejectionCodes.Format), ["400"] = (DistillRow.Failed, RejectionCodes.TeacherError),
        };
        foreach (var (id, marker) in faults)
        {
            var row = rows[id];
            Assert.True(expected[marker].Status == row.Status, $"{marker}: {row.Status} {string.Join(";", row.Rejections)}");
            if (expected[marker].Code is { } code) Assert.Equal(code, row.Reason);   // the first validator that failed
        }
        // The summary counts every rejected or failed row once, under its primary reason.
        Assert.Equal(rows.Values.Count(r => r.Reason is not null), result.Reasons.Values.Sum());
        foreach (var row in rows.Values.Where(r => r.Status != DistillRow.Accepted))
            Assert.All(row.Rejections, r => { Assert.False(string.IsNullOrWhiteSpace(r.Code)); Assert.False(string.IsNullOrWhiteSpace(r.Detail)); });
        Assert.Contains(rows.Values, r => r.Status != DistillRow.Accepted);
        foreach (var clean in problems.Where(p => p.Id.StartsWith('a')))
        {
            var row = rows[clean.Id];
            Assert.Equal(DistillRow.Accepted, row.Status);
            Assert.NotEmpty(row.LongCot);
            Assert.Equal("reasoning", row.LongCotSource);
            Assert.StartsWith("**Solution:**", row.Solution);
            Assert.NotNull(row.Usage);
            Assert.Equal("stop", row.FinishReason);
        }
        Assert.Equal([DifficultyLabeler.Easy, DifficultyLabeler.Hard, DifficultyLabeler.Medium],
            rows.Values.Where(r => r.Status == DistillRow.Accepted).Select(r => r.Difficulty).Distinct().Order().ToArray());
        Assert.True(client.Retries >= 6, $"retries {client.Retries}");
        Assert.Contains("http_429", client.TransientFailures.Keys);
        Assert.Contains("timeout", client.TransientFailures.Keys);
        Assert.Contains(stream ? "truncated_stream" : "malformed_json", client.TransientFailures.Keys);

        // exports: each accepted row exactly once
        var export = DistillExporter.Export(rows.Values.ToList(), dir["out"], new ExportOptions());
        var sftIds = File.ReadAllLines(dir["out/sft.jsonl"]).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()).ToList();
        Assert.Equal(rows.Values.Count(r => r.Status == DistillRow.Accepted), sftIds.Count);
        Assert.Equal(sftIds.Count, sftIds.Distinct().Count());
        Assert.Equal(export.Rows, File.ReadAllLines(dir["out/full.jsonl"]).Length);
        Assert.Equal(export.Rows, File.ReadAllLines(dir["out/sharegpt.jsonl"]).Length);
        Assert.Equal(rows.Count - export.Rows, File.ReadAllLines(dir["out/rejected.jsonl"]).Length);

        // a rerun sends nothing again except the row that failed (failures are not cached)
        int before = server.Requests.Count;
        var rerun = await new DistillPipeline(client, store, new DistillOptions { Concurrency = 4 }).RunAsync(problems);
        var again = server.Requests.Skip(before).ToList();
        Assert.All(again, r => Assert.Contains("[[teacher:400]]", r.Body));
        Assert.Equal(problems.Count - 1, rerun.Resumed);
    }

    [Fact]
    public async Task CancelledRepeatedly_ResumesWithoutResendingCachedCalls_AndMatchesUninterruptedOutput()
    {
        using var dir = new TempDir();
        var problems = DistillKit.Arithmetic(40);
        DistillKit.AddFaults(problems, "wrong", "nosections", "429*1");
        var options = new DistillOptions { Concurrency = 4 };

        // reference: one uninterrupted run
        await using (var server = await DistillKit.Server(latency: TimeSpan.FromMilliseconds(15)))
        using (var client = DistillKit.Client(server))
        using (var store = new DistillStore(dir["ref/distill.db"]))
        {
            var p = new DistillPipeline(client, store, options);
            await p.RunAsync(problems);
            DistillExporter.Export(store.Rows(p.Fingerprint(problems)).Select(DistillRow.FromJson).ToList(), dir["ref/out"], new ExportOptions());
        }

        // resumed: cancel at random points — after a random number of requests reached the teacher in that run
        var rng = new Random(1234);
        int cancellations = 0, runs = 0, partial = 0, seenThisRun = 0, cancelAt = int.MaxValue;
        CancellationTokenSource? current = null;
        var inner = new FaultInjectingResponder(new DapTeacherResponder());
        var cancelling = new DelegateResponder(r =>
        {
            if (Interlocked.Increment(ref seenThisRun) == cancelAt) current?.Cancel();
            return inner.RespondAsync(r, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        });
        await using (var server = await ScriptedTeacherServer.StartAsync(cancelling, new ScriptedTeacherOptions { Latency = TimeSpan.FromMilliseconds(15) }))
        {
            while (true)
            {
                runs++;
                Assert.True(runs < 30, "did not finish");
                HashSet<string> cachedBefore;
                using (var s = new DistillStore(dir["res/distill.db"])) cachedBefore = s.CachedRequests().Select(c => c.Request).ToHashSet();
                int seenBefore = server.Requests.Count;
                using var client = DistillKit.Client(server);
                using var store = new DistillStore(dir["res/distill.db"]);
                using var cts = new CancellationTokenSource();
                current = cts;
                seenThisRun = 0;
                cancelAt = cancellations < 5 ? rng.Next(2, 14) : int.MaxValue;
                if (runs == 1) cts.Cancel(); // before anything happens
                var result = await new DistillPipeline(client, store, options).RunAsync(problems, null, cts.Token);
                // zero repeated requests for items cached before this run
                foreach (var req in server.Requests.Skip(seenBefore))
                    Assert.DoesNotContain(req.Body, cachedBefore);
                if (result.Cancelled)
                {
                    cancellations++;
                    if (result.Done > result.Resumed) partial++;
                    continue;
                }
                Assert.Equal(problems.Count, result.Done);
                break;
            }
            Assert.True(cancellations >= 4, $"only {cancellations} cancellations");
            Assert.True(partial >= 2, $"only {partial} runs were cancelled half-way");
        }
        using (var store = new DistillStore(dir["res/distill.db"]))
        {
            using var offline = new TeacherClient(new TeacherClientOptions { BaseUrls = [new Uri("http://127.0.0.1:9/v1")], Model = "scripted-teacher" });
            var p = new DistillPipeline(offline, store, options);
            DistillExporter.Export(store.Rows(p.Fingerprint(problems)).Select(DistillRow.FromJson).ToList(), dir["res/out"], new ExportOptions());
        }
        foreach (var f in new[] { "sft.jsonl", "sharegpt.jsonl", "full.jsonl", "rejected.jsonl", "dataset_info.json", "sft.parquet" })
            Assert.True(File.ReadAllBytes(dir[$"ref/out/{f}"]).AsSpan().SequenceEqual(File.ReadAllBytes(dir[$"res/out/{f}"])), $"{f} differs");
    }

    [Fact]
    public async Task TwoCall_UsesGivenLongCot_OrAFirstCall()
    {
        using var dir = new TempDir();
        await using var server = await DistillKit.Server(inner: new DapTeacherResponder { ReasoningModel = false });
        var problems = DistillKit.Arithmetic(6);
        problems = problems.Select((p, i) => i % 2 == 0 ? p : p with { LongCot = null }).ToList();
        using var client = DistillKit.Client(server, stream: true);
        using var store = new DistillStore(dir["distill.db"]);
        var pipeline = new DistillPipeline(client, store, new DistillOptions { Mode = DistillMode.TwoCall, Concurrency = 2 });
        var result = await pipeline.RunAsync(problems);
        Assert.Equal(6, result.Accepted);
        var rows = store.Rows(pipeline.Fingerprint(problems)).Select(DistillRow.FromJson).ToList();
        foreach (var row in rows)
        {
            var p = problems.Single(x => x.Id == row.Id);
            if (p.LongCot is not null)
            {
                Assert.Equal("input", row.LongCotSource);
                Assert.Equal(p.LongCot, row.LongCot);
                Assert.Single(row.Calls);
                // the rewrite condenses the given verbose trace to its equations
                Assert.Contains(row.Solution.Split('\n')[1], p.LongCot);
            }
            else
            {
                Assert.Equal("content", row.LongCotSource);
                Assert.Equal(["long", "rewrite"], row.Calls.Select(c => c.Call).ToArray());
            }
            Assert.Equal("two-call", row.Mode);
        }
        Assert.Equal(3 + 6, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Contains("\"include_usage\":true", r.Body));
    }

    [Fact]
    public async Task RequestsPerMinute_SpacesRequests()
    {
        using var dir = new TempDir();
        await using var server = await DistillKit.Server();
        var problems = DistillKit.Arithmetic(30);
        using var client = DistillKit.Client(server, rpm: 1200); // 20/s with a one-second burst of 20
        using var store = new DistillStore(dir["distill.db"]);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await new DistillPipeline(client, store, new DistillOptions { Concurrency = 16 }).RunAsync(problems);
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(350), $"30 requests at 20/s (burst 20) took only {sw.ElapsedMilliseconds} ms");
    }
}
