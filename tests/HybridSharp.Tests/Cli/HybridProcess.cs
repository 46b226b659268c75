using System.Diagnostics;
using Xunit;

namespace HybridSharp.Tests.Cli;

/// <summary>Runs the real `hybrid` executable from the test output folder and checks its one-line errors.</summary>
public static class HybridProcess
{
    public static (int Code, string Out, string Err) Run(params string[] args) => RunWithInput(null, args);

    /// <summary>Runs with <paramref name="input"/> on standard input (then closed); null = no input.</summary>
    public static (int Code, string Out, string Err) RunWithInput(string? input, params string[] args)
    {
        var dll = Environment.GetEnvironmentVariable("HYBRID_CLI_DLL") ?? Path.Combine(AppContext.BaseDirectory, "hybrid.dll");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null, UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["HYBRID_THREADS"] = "1";
        psi.Environment["NO_COLOR"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("hybrid did not exit"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A user mistake: non-zero exit, exactly one "error: …" line containing <paramref name="expected"/>, no stack trace.</summary>
    public static void AssertOneLineError(int code, string err, string expected)
    {
        Assert.NotEqual(0, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", err);
    }
}
