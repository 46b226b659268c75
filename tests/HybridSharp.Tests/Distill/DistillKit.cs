using HybridSharp.Distill;
using HybridSharp.TeacherSim;
using HybridSharp.Tasks;

namespace HybridSharp.Tests.Distill;

/// <summary>Problems, servers and pipelines for the distill tests.</summary>
public static class DistillKit
{
    /// <summary>Clean arithmetic problems (difficulty 1…8) with a boxed reference and the verbose solution as long CoT.</summary>
    public static List<ProblemRecord> Arithmetic(int count, int seed = 7)
    {
        var gen = new ArithmeticGenerator(seed);
        var list = new List<ProblemRecord>();
        for (int i = 0; i < count; i++)
        {
            var p = gen.Generate(1 + i % 8);
            list.Add(new ProblemRecord($"a{i:D3}", i, p.Question, $"\\boxed{{{p.Answer}}}",
                ArithmeticSolutionWriter.Write(p, SolutionStyle.Verbose), "math"));
        }
        return list;
    }

    /// <summary>Appends problems carrying fault markers; returns the marker of each id.</summary>
    public static Dictionary<string, string> AddFaults(List<ProblemRecord> problems, params string[] markers)
    {
        var map = new Dictionary<string, string>();
        foreach (var m in markers)
        {
            int i = problems.Count;
            var id = $"f{i:D3}";
            problems.Add(new ProblemRecord(id, i, $"Fault case {i} [[teacher:{m}]]: Ann has {i + 3} pens and buys 2 more. How many pens now?",
                $"\\boxed{{{i + 5}}}", null, "math"));
            map[id] = m;
        }
        return map;
    }

    public static Task<ScriptedTeacherServer> Server(TimeSpan? latency = null, TimeSpan? hang = null, ITeacherResponder? inner = null) =>
        ScriptedTeacherServer.StartAsync(new FaultInjectingResponder(inner ?? new DapTeacherResponder()) { HangFor = hang ?? TimeSpan.FromSeconds(3) },
            new ScriptedTeacherOptions { Latency = latency ?? TimeSpan.Zero });

    public static TeacherClient Client(ScriptedTeacherServer server, bool stream = false, TimeSpan? timeout = null, int? rpm = null) => new(new TeacherClientOptions
    {
        BaseUrls = [server.BaseUrl],
        Model = "scripted-teacher",
        Stream = stream,
        RequestTimeout = timeout ?? TimeSpan.FromSeconds(5),
        MaxRetries = 4,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        RequestsPerMinute = rpm,
    });
}
