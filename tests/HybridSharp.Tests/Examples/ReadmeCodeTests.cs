using System.Text.RegularExpressions;
using Xunit;

namespace HybridSharp.Tests.Examples;

/// <summary>
/// The README's C# snippets are excerpts of the programs in <c>examples/</c>, which the suite compiles and runs: every
/// line of every <c>csharp</c> block must occur in one of them, so a snippet cannot drift from code that works.
/// </summary>
public sealed partial class ReadmeCodeTests
{
    [Fact]
    public void EveryReadmeCSharpLineIsInAnExample()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var blocks = CSharpBlock().Matches(readme).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(blocks);
        var exampleLines = Directory.EnumerateFiles(Path.Combine(root, "examples"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .SelectMany(File.ReadLines).Select(l => l.Trim()).ToHashSet(StringComparer.Ordinal);
        var missing = blocks.SelectMany(b => b.Split('\n')).Select(l => l.Trim())
            .Where(l => l.Length > 0 && !exampleLines.Contains(l)).ToList();
        Assert.True(missing.Count == 0, "README C# lines not found in examples/: " + string.Join(" | ", missing));
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "HybridSharp.slnx"))) return dir.FullName;
        throw new InvalidOperationException("repository root (HybridSharp.slnx) not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
