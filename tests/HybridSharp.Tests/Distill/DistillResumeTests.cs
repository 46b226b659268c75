using HybridSharp.Data;
using System.Diagnostics;
using System.Text.Json;
using HybridSharp.Distill;
using HybridSharp.TeacherSim;
using Parquet.Serialization;
using Xunit;

namespace HybridSharp.Tests.Distill;

public class DistillResumeTests
{
    /// <summary>A `hybrid distill run` killed mid-way (no clean shutdown) resumes to the same exports as an uninterrupted run.</summary>
    [Fact]
    public async Task KilledProcess_ResumesToIdenticalExports_WithoutResendingCachedCalls()
    {
        using var dir = new TempDir();
        await using var server = await ScriptedTeacherServer.StartAsync(new FaultInjectingResponder(new DapTeacherResponder()),
            new ScriptedTeacherOptions { Latency = TimeSpan.FromMilliseconds(40) });
        var problems = DistillKit.Arithmetic(40);
        DistillKit.AddFaults(problems, "wrong");
        File.WriteAllLines(dir["in.jsonl"], problems.Select(p => JsonSerializer.Serialize(new { id = p.Id, problem = p.Problem, solution = p.Reference })));
        string[] Args(string output) => ["distill", "run", dir["in.jsonl"], "--out", output, "--base-url", server.BaseUrl.ToString(), "--model", "scripted-teacher", "-j", "2", "--tokenizer", "byte"];

        var (code, stdout, stderr) = Cli.HybridProcess.Run(Args(dir["ref"]));
        Assert.True(code == 0, stdout + stderr);
        int uninterrupted = server.Requests.Count;

        // start, kill hard after some answers were cached
        var dll = Path.Combine(AppContext.BaseDirectory, "hybrid.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in Args(dir["res"])) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        int before = server.Requests.Count;
        using (var p = Process.Start(psi)!)
        {
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (server.Requests.Count - before < 12 && DateTime.UtcNow < deadline && !p.HasExited) await Task.Delay(10);
            Assert.False(p.HasExited, "run finished before it could be killed");
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
        // The server records a request when it has answered it, so one the killed process had in flight can still be
        // logged after the kill: wait until the log is quiet before counting the resumed run's requests.
        for (int last = -1; server.Requests.Count != last;)
        {
            last = server.Requests.Count;
            await Task.Delay(300);
        }
        HashSet<string> cached;
        using (var store = new DistillStore(dir["res/distill.db"])) cached = store.CachedRequests().Select(c => c.Request).ToHashSet();
        Assert.NotEmpty(cached);
        Assert.False(File.Exists(dir["res/sft.jsonl"]));

        int mark = server.Requests.Count;
        (code, stdout, stderr) = Cli.HybridProcess.Run(Args(dir["res"]));
        Assert.True(code == 0, stdout + stderr);
        Assert.All(server.Requests.Skip(mark), r => Assert.DoesNotContain(r.Body, cached));
        // The resumed run sends exactly the requests of an uninterrupted run that were not cached. (Not "one per
        // uncached problem": a rejected answer is asked again, so a problem can take two requests.)
        Assert.Equal(uninterrupted - cached.Count, server.Requests.Count - mark);
        foreach (var f in new[] { "sft.jsonl", "sharegpt.jsonl", "full.jsonl", "rejected.jsonl", "sft.parquet" })
            Assert.True(File.ReadAllBytes(dir[$"ref/{f}"]).AsSpan().SequenceEqual(File.ReadAllBytes(dir[$"res/{f}"])), $"{f} differs");
    }

    [Fact]
    public async Task SeveralBaseUrls_ShareTheLoad()
    {
        using var dir = new TempDir();
        await using var a = await DistillKit.Server();
        await using var b = await DistillKit.Server();
        using var client = new TeacherClient(new TeacherClientOptions { BaseUrls = [a.BaseUrl, b.BaseUrl], Model = "scripted-teacher" });
        using var store = new DistillStore(dir["distill.db"]);
        var result = await new DistillPipeline(client, store, new DistillOptions { Concurrency = 4 }).RunAsync(DistillKit.Arithmetic(20));
        Assert.Equal(20, result.Accepted);
        Assert.Equal(10, a.Requests.Count);
        Assert.Equal(10, b.Requests.Count);
    }

    public sealed class ParquetProblem
    {
        public long Id { get; set; }
        public string Question { get; set; } = "";
        public string? Answer { get; set; }
    }

    [Fact]
    public async Task Reader_MapsParquetColumns_IncludingIntegerIds()
    {
        using var dir = new TempDir();
        var rows = new List<ParquetProblem> { new() { Id = 7, Question = "1 + 1?", Answer = "\\boxed{2}" }, new() { Id = 9, Question = "2 + 2?", Answer = null } };
        await ParquetSerializer.SerializeAsync(rows, dir["p.parquet"]);
        var problems = ProblemReader.Read([dir["p.parquet"]], new ProblemFields { Problem = "Question", Answer = "Answer", Id = "Id", Domain = null });
        Assert.Equal(["7", "9"], problems.Select(p => p.Id).ToArray());
        Assert.Equal("\\boxed{2}", problems[0].Reference);
        Assert.Equal("", problems[1].Reference);
        Assert.Equal("math", problems[0].Domain);
        Assert.Throws<InvalidDataException>(() => ProblemReader.Read([dir["p.parquet"]], new ProblemFields { Problem = "Nope" }));
    }
}
