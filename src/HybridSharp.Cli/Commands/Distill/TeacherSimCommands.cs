using System.CommandLine;
using System.Globalization;
using HybridSharp.TeacherSim;

namespace HybridSharp.Cli.Commands.Distill;

/// <summary><c>hybrid distill teacher-sim</c> and <c>bench</c>: the offline scripted teacher and the throughput benchmark against it.</summary>
internal static class TeacherSimCommands
{
    public static Command TeacherSim()
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
            using var cts = Cli.CancelOnStopSignal("stopping the teacher");
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

    public static Command Bench()
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
