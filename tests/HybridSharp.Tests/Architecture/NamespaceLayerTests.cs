using Xunit;
using Xunit.Abstractions;

namespace HybridSharp.Tests.Architecture;

/// <summary>
/// The library's namespaces form a one-way street: each may use only the layers below it (docs/architecture.md,
/// "Layers"). Computed from the sources, so a new dependency that points up or closes a cycle fails here.
/// </summary>
public sealed class NamespaceLayerTests(ITestOutputHelper output)
{
    /// <summary>The core library's layers, bottom first; a namespace may depend only on namespaces of earlier rows.</summary>
    public static readonly string[][] CoreLayers =
    [
        ["Runtime", "IO", "Jinja", "Config", "Kernels"],
        ["Data"],
        ["Grammar"],
        ["Chat"],
        ["Caching"],
        ["Modules"],
        ["Models"],
        ["Checkpoints"],
        ["Inference"],
        ["Training"],
        ["Sft", "Eval"],
        ["Tasks"],
        ["Recipes"],
    ];

    [Fact]
    public void CoreNamespacesDependOnlyOnLowerLayers()
    {
        var graph = NamespaceGraph.FromDirectory(Path.Combine(RepoRoot(), "src", "HybridSharp"), "HybridSharp");
        var layerOf = CoreLayers.SelectMany((row, i) => row.Select(ns => (ns, i))).ToDictionary(p => p.ns, p => p.i);
        var problems = new List<string>();
        foreach (var (from, targets) in graph.Edges)
        {
            if (!layerOf.TryGetValue(from, out int fromLayer)) { problems.Add($"namespace {from} is not in the layer table"); continue; }
            foreach (var to in targets)
            {
                output.WriteLine($"{from} → {to}");
                if (!layerOf.TryGetValue(to, out int toLayer)) problems.Add($"namespace {to} is not in the layer table");
                else if (toLayer >= fromLayer) problems.Add($"{from} → {to} points up or sideways ({graph.Witness(from, to)})");
            }
        }
        var onDisk = Directory.GetDirectories(Path.Combine(RepoRoot(), "src", "HybridSharp"))
            .Select(Path.GetFileName).Where(d => d is not ("obj" or "bin")).ToList();
        problems.AddRange(onDisk.Where(d => !layerOf.ContainsKey(d!)).Select(d => $"folder {d} is not in the layer table"));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [InlineData("HybridSharp", "HybridSharp", 1)]
    [InlineData("HybridSharp", "HybridSharp", 2)]
    [InlineData("HybridSharp.Distill", "HybridSharp.Distill", 1)]
    [InlineData("HybridSharp.Server", "HybridSharp.Server", 1)]
    [InlineData("HybridSharp.Cli", "HybridSharp.Cli", 1)]
    [InlineData("HybridSharp.TeacherSim", "HybridSharp.TeacherSim", 1)]
    [InlineData("HybridSharp.Experiments", "HybridSharp.Experiments", 1)]
    public void ProjectHasNoNamespaceCycle(string project, string root, int depth)
    {
        var graph = NamespaceGraph.FromDirectory(Path.Combine(RepoRoot(), "src", project), root, depth);
        var cycles = graph.Cycles();
        Assert.True(cycles.Count == 0, "namespace cycles:\n" + string.Join("\n", cycles));
    }

    [Fact]
    public void AnalysisFindsCyclesThroughUsingsParentsAndQualifiedNames()
    {
        (string, string)[] sources =
        [
            ("a.cs", "namespace HybridSharp.A;\nusing HybridSharp.B;\npublic sealed class Alpha { Beta? b; }"),
            ("b.cs", "namespace HybridSharp.B;\npublic sealed class Beta { HybridSharp.C.Gamma? g; }"),
            ("c.cs", "namespace HybridSharp.C.Inner;\npublic sealed record Delta(int X);"),
            ("c2.cs", "namespace HybridSharp.C;\npublic sealed class Gamma { }"),
            ("c3.cs", "namespace HybridSharp.C.Inner;\nusing HybridSharp.A;\n// Alpha in a comment does not count\npublic sealed class Epsilon { Gamma? g; }"),
        ];
        var acyclic = NamespaceGraph.FromSources(sources, "HybridSharp");
        Assert.Empty(acyclic.Cycles());
        Assert.Equal(["B"], acyclic.Edges["A"]);
        Assert.Equal(["C"], acyclic.Edges["B"]);
        Assert.False(acyclic.Edges.ContainsKey("C"));   // C.Inner → C is inside the group C

        var withCycle = sources.Append(("c4.cs", "namespace HybridSharp.C.Inner;\nusing HybridSharp.A;\npublic sealed class Zeta { Alpha? a; }"));
        var cycles = NamespaceGraph.FromSources(withCycle, "HybridSharp").Cycles();
        var cycle = Assert.Single(cycles);
        Assert.StartsWith("A → B → C → A", cycle);
        Assert.Contains("c4.cs uses Alpha", cycle);

        var deep = NamespaceGraph.FromSources(sources, "HybridSharp", depth: 2);
        Assert.Equal(["C"], deep.Edges["C.Inner"]);   // a nested namespace sees its parent's types without a using
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "HybridSharp.slnx"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
