using System.Diagnostics;
using Xunit;

namespace HybridSharp.Tests.Cli;

/// <summary>Runs the real `hybrid` executable: user mistakes give one "error:" line and a non-zero exit code.</summary>
[Collection("Torch")]
public sealed class CliTests
{
    private static (int Code, string Out, string Err) Hybrid(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "hybrid.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["HYBRID_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("hybrid did not exit"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static void AssertOneLineError(int code, string err, string expected)
    {
        Assert.NotEqual(0, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void UserMistakesGiveOneClearLine()
    {
        using var tmp = new TempDir();
        var (c1, _, e1) = Hybrid("train", "--model", tmp["nope"], "--data", tmp["nodata"]);
        AssertOneLineError(c1, e1, "nodata");
        var (c2, _, e2) = Hybrid("info", "--preset", "no-such-preset");
        AssertOneLineError(c2, e2, "unknown preset");
        var (c3, _, e3) = Hybrid("generate", "--model", tmp["missing"], "--prompt", "x", "--no-such-flag");
        AssertOneLineError(c3, e3, "--no-such-flag");
        var (c4, _, e4) = Hybrid("generate", "--model", tmp["missing"], "--prompt", "x");
        AssertOneLineError(c4, e4, "not found");
        var (c5, _, e5) = Hybrid("init", tmp["m"], "--preset", "transformer-tiny", "--seed", "notanumber");
        AssertOneLineError(c5, e5, "notanumber");
        File.WriteAllText(tmp["bad.json"], "{ not json");
        var (c6, _, e6) = Hybrid("init", tmp["m2"], "--config", tmp["bad.json"]);
        AssertOneLineError(c6, e6, "bad.json");
    }

    [Fact]
    public void InitInfoGenerateAndRefuseToOverwrite()
    {
        using var tmp = new TempDir();
        var (c1, o1, e1) = Hybrid("init", tmp["m"], "--preset", "transformer-tiny");
        Assert.True(c1 == 0, e1);
        Assert.Contains("parameters", o1);
        var (c2, _, e2) = Hybrid("init", tmp["m"]);
        AssertOneLineError(c2, e2, "--force");
        var (c3, o3, e3) = Hybrid("info", "--model", tmp["m"], "--context", "512");
        Assert.True(c3 == 0, e3);
        Assert.Contains("attention", o3);
        Assert.Contains("FLOPs", o3);
        var (c4, o4, e4) = Hybrid("generate", "--model", tmp["m"], "--prompt", "Hi", "-n", "5", "-t", "0");
        Assert.True(c4 == 0, e4);
        Assert.StartsWith("Hi", o4);
        var (c5, o5, e5) = Hybrid("score", "--model", tmp["m"], "--text", "hello world");
        Assert.True(c5 == 0, e5);
        Assert.Contains("perplexity", o5);
    }
}
