using System.Text.RegularExpressions;

namespace HybridSharp.Tests.Architecture;

/// <summary>
/// The dependency graph between the namespaces of a project, computed from its C# sources: namespace A depends on B
/// when a file of A names a type declared in B that it can see — through a <c>using B;</c>, because B encloses A, or
/// by a fully qualified name. Namespaces are grouped at <see cref="Depth"/> segments below the project's root.
/// </summary>
public sealed partial class NamespaceGraph
{
    private readonly Dictionary<string, SortedSet<string>> _edges = new(StringComparer.Ordinal);
    private readonly Dictionary<(string From, string To), string> _witness = [];

    public string Root { get; }
    public int Depth { get; }
    public IReadOnlyDictionary<string, SortedSet<string>> Edges => _edges;

    private NamespaceGraph(string root, int depth) { Root = root; Depth = depth; }

    /// <summary>The graph of the <c>.cs</c> files under <paramref name="directory"/> (obj/ and bin/ excluded).</summary>
    public static NamespaceGraph FromDirectory(string directory, string root, int depth = 1)
    {
        var sources = Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(p => p is "obj" or "bin"))
            .Select(f => (Path.GetRelativePath(directory, f), File.ReadAllText(f)));
        return FromSources(sources, root, depth);
    }

    /// <summary>The graph of (name, text) sources.</summary>
    public static NamespaceGraph FromSources(IEnumerable<(string Name, string Text)> sources, string root, int depth = 1)
    {
        var graph = new NamespaceGraph(root, depth);
        var files = sources.Select(s => (s.Name, Namespace: NamespaceOf(s.Text), s.Text)).Where(f => f.Namespace is not null).ToList();
        var declared = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var f in files)
        {
            if (!declared.TryGetValue(f.Namespace!, out var set)) declared[f.Namespace!] = set = [];
            foreach (Match m in TypeDeclaration().Matches(LineComment().Replace(f.Text, ""))) set.Add(m.Groups[1].Value);
        }
        foreach (var (name, ns, text) in files)
        {
            var code = LineComment().Replace(AnyUsing().Replace(text, ""), "");
            var words = Identifier().Matches(code).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
            var visible = NamespaceUsing().Matches(text).Concat(StaticUsing().Matches(text))
                .Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
            var parts = ns!.Split('.');
            for (int i = 1; i < parts.Length; i++) visible.Add(string.Join('.', parts.Take(i)));
            foreach (var other in visible)
                if (other != ns && declared.TryGetValue(other, out var types) && types.FirstOrDefault(words.Contains) is { } used)
                    graph.Add(ns, other, $"{name} uses {used}");
            foreach (Match m in QualifiedName().Matches(code))
            {
                var segments = m.Value.Split('.');
                for (int i = 1; i < segments.Length; i++)
                {
                    var prefix = string.Join('.', segments.Take(i));
                    if (declared.TryGetValue(prefix, out var types) && types.Contains(segments[i]))
                        graph.Add(ns, prefix, $"{name} names {prefix}.{segments[i]}");
                }
            }
        }
        return graph;
    }

    /// <summary>The group of a namespace: its first <see cref="Depth"/> segments below the root ("(root)" for the root itself).</summary>
    public string Group(string ns)
    {
        if (ns == Root) return "(root)";
        if (!ns.StartsWith(Root + ".", StringComparison.Ordinal)) return ns;
        return string.Join('.', ns[(Root.Length + 1)..].Split('.').Take(Depth));
    }

    private void Add(string fromNamespace, string toNamespace, string why)
    {
        string from = Group(fromNamespace), to = Group(toNamespace);
        if (from == to || !toNamespace.StartsWith(Root, StringComparison.Ordinal)) return;
        if (!_edges.TryGetValue(from, out var set)) _edges[from] = set = new SortedSet<string>(StringComparer.Ordinal);
        set.Add(to);
        _witness.TryAdd((from, to), why);
    }

    /// <summary>Why <paramref name="from"/> depends on <paramref name="to"/> (one file and type).</summary>
    public string Witness(string from, string to) => _witness.TryGetValue((from, to), out var w) ? w : "?";

    /// <summary>Every cycle as a path "A → B → … → A" (one per strongly connected component), empty when there is none.</summary>
    public IReadOnlyList<string> Cycles()
    {
        var result = new List<string>();
        var nodes = _edges.Keys.Concat(_edges.Values.SelectMany(v => v)).Distinct().OrderBy(n => n, StringComparer.Ordinal);
        foreach (var start in nodes)
        {
            // A shortest path from start back to start, through nodes that sort after it (each cycle reported once).
            var previous = new Dictionary<string, string>();
            var queue = new Queue<string>([start]);
            string? closing = null;
            while (queue.Count > 0 && closing is null)
            {
                var node = queue.Dequeue();
                foreach (var next in _edges.GetValueOrDefault(node) ?? [])
                {
                    if (next == start) { closing = node; break; }
                    if (string.CompareOrdinal(next, start) < 0 || previous.ContainsKey(next)) continue;
                    previous[next] = node;
                    queue.Enqueue(next);
                }
            }
            if (closing is null) continue;
            var path = new List<string> { start };
            for (var n = closing; n != start; n = previous[n]) path.Insert(1, n);
            path.Add(start);
            result.Add(string.Join(" → ", path) + "  (" + string.Join("; ", path.Zip(path.Skip(1)).Select(p => Witness(p.First, p.Second))) + ")");
        }
        return result;
    }

    private static string? NamespaceOf(string text) => FileNamespace().Match(text) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex FileNamespace();
    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum)\s+(?:struct\s+|class\s+)?([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();
    [GeneratedRegex(@"^using\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespaceUsing();
    [GeneratedRegex(@"^using\s+static\s+([\w.]+)\.\w+\s*;", RegexOptions.Multiline)]
    private static partial Regex StaticUsing();
    [GeneratedRegex(@"^using\s.*$", RegexOptions.Multiline)]
    private static partial Regex AnyUsing();
    [GeneratedRegex(@"//.*")]
    private static partial Regex LineComment();
    [GeneratedRegex(@"\b[A-Z]\w*\b")]
    private static partial Regex Identifier();
    [GeneratedRegex(@"\bHybridSharp(?:\.[A-Z]\w*)+")]
    private static partial Regex QualifiedName();
}
