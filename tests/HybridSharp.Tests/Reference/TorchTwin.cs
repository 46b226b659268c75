using System.Diagnostics;

namespace HybridSharp.Tests.Reference;

/// <summary>
/// Runs the PyTorch twin (python/hybrid_torch.py) with Debian's PyTorch (python3-torch, installed by
/// tests/reference/setup.sh). A missing interpreter or torch is a test failure, never a skip.
/// </summary>
public static class TorchTwin
{
    public const string Python = "/usr/bin/python3";

    /// <summary>The repository's python/ folder.</summary>
    public static string Folder { get; } = Path.Combine(Path.GetDirectoryName(NodeReference.Folder)!, "..", "python");

    public static string Script => Path.Combine(Folder, "hybrid_torch.py");

    /// <summary>Runs <paramref name="program"/> (the twin's script unless given) with arguments; returns stdout, throws with stderr on failure.</summary>
    public static string Run(IEnumerable<string> args, string? program = null, int timeoutSeconds = 300, IDictionary<string, string>? env = null)
    {
        if (!File.Exists(Python)) throw new InvalidOperationException($"{Python} is missing (run tests/reference/setup.sh)");
        var psi = new ProcessStartInfo(program ?? Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (program is null) psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "2";
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(true);
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} did not finish in {timeoutSeconds} s");
        }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{psi.FileName} failed ({p.ExitCode}): {stderr.Result}{stdout.Result}");
        return stdout.Result;
    }
}
