using System.CommandLine;
using System.Text.RegularExpressions;
using HybridSharp.Cli;
using HybridSharp.Cli.Commands;
using Xunit;

namespace HybridSharp.Tests.Cli;

/// <summary>The library names options as it calls them; the CLI must show a real flag for every such name.</summary>
public sealed partial class OptionFlagsTests
{
    [Fact]
    public void EveryOptionTheLibraryNamesIsAFlagOfSomeCommand()
    {
        var flags = AllFlags(CliCommands.Build());
        var root = RepoRoot();
        var named = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var project in new[] { "HybridSharp", "HybridSharp.Distill", "HybridSharp.Server", "HybridSharp.Experiments" })
        {
            var dir = Path.Combine(root, "src", project);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/")))
                foreach (Match literal in StringLiteral().Matches(File.ReadAllText(file)))
                    foreach (Match m in Backticked().Matches(literal.Value))
                        named.Add(m.Groups[1].Value);
        }
        Assert.NotEmpty(named);
        var unmapped = named.Where(n => !OptionFlags.Flags.ContainsKey(n)).ToList();
        Assert.True(unmapped.Count == 0, "library option names without a flag: " + string.Join(", ", unmapped));
        var dangling = OptionFlags.Flags.Where(kv => !flags.Contains(kv.Value)).Select(kv => $"{kv.Key} → {kv.Value}").ToList();
        Assert.True(dangling.Count == 0, "flags that no command has: " + string.Join(", ", dangling));
        var unused = OptionFlags.Flags.Keys.Where(k => !named.Contains(k)).ToList();
        Assert.True(unused.Count == 0, "table entries the library never names: " + string.Join(", ", unused));
    }

    [Fact]
    public void MessagesShowFlagsAndKeepTheRest()
    {
        Assert.Equal("--lr must be positive", OptionFlags.Rewrite("`TrainerOptions.LearningRate` must be positive"));
        Assert.Equal("set --problem-field or --id-field", OptionFlags.Rewrite("set `ProblemFields.Problem` or `ProblemFields.Id`"));
        Assert.Equal("`NotAnOption` stays", OptionFlags.Rewrite("`NotAnOption` stays"));
    }

    private static HashSet<string> AllFlags(Command command)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in command.Options) { set.Add(o.Name); foreach (var a in o.Aliases) set.Add(a); }
        foreach (var c in command.Subcommands) set.UnionWith(AllFlags(c));
        return set;
    }

    // `X` inside C# string literals (library messages), not in comments.
    [GeneratedRegex(@"""(?:[^""\\\n]|\\.)*""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"`([A-Za-z][\w.]*)`")]
    private static partial Regex Backticked();

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "HybridSharp.slnx"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
