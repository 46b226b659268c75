using System.Diagnostics;
using Xunit;

namespace HybridSharp.Tests.HfInterop;

/// <summary>`hybrid import` / `hybrid export` through the real executable: results on stdout, mistakes as one "error:" line.</summary>
[Collection("Torch")]
public sealed class HfCliTests
{
    private static (int Code, string Out, string Err) Hybrid(params string[] args)
    {
        var dll = Environment.GetEnvironmentVariable("HYBRID_CLI_DLL") ?? Path.Combine(AppContext.BaseDirectory, "hybrid.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["HYBRID_THREADS"] = "1";
        psi.Environment["NO_COLOR"] = "1";
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
    }

    [Fact]
    public void ExportImportAndMistakes()
    {
        using var tmp = new TempDir();
        var (c0, _, e0) = Hybrid("init", tmp["m"], "--preset", "transformer-tiny");
        Assert.True(c0 == 0, e0);

        var (c1, o1, e1) = Hybrid("export", tmp["m"], tmp["hf"], "--format", "hf");
        Assert.True(c1 == 0, e1);
        Assert.Contains("LlamaForCausalLM", o1);
        Assert.True(File.Exists(tmp["hf/tokenizer.json"]));

        var (c2, _, e2) = Hybrid("export", tmp["m"], tmp["hf"]);
        AssertOneLineError(c2, e2, "--force");
        var (c3, _, e3) = Hybrid("export", tmp["m"], tmp["hf"], "--dtype", "fp64", "--force");
        AssertOneLineError(c3, e3, "unknown dtype");
        var (c4, o4, e4) = Hybrid("export", tmp["m"], tmp["hf"], "--dtype", "bfloat16", "--force");
        Assert.True(c4 == 0, e4);
        Assert.Contains("bfloat16", o4);

        var (c5, o5, e5) = Hybrid("import", tmp["hf"], tmp["back"]);
        Assert.True(c5 == 0, e5);
        Assert.Contains("Imported", o5);
        var (c6, o6, e6) = Hybrid("generate", "--model", tmp["back"], "--prompt", "Hi", "-n", "3", "-t", "0");
        Assert.True(c6 == 0, e6);
        Assert.StartsWith("Hi", o6);

        Directory.CreateDirectory(tmp["bert"]);
        File.WriteAllText(tmp["bert/config.json"], """{"model_type": "bert"}""");
        var (c7, _, e7) = Hybrid("import", tmp["bert"], tmp["x"]);
        AssertOneLineError(c7, e7, "model_type 'bert' is not supported");

        var (c8, _, e8) = Hybrid("init", tmp["hyb"], "--preset", "transxssm-tiny");
        Assert.True(c8 == 0, e8);
        var (c9, _, e9) = Hybrid("export", tmp["hyb"], tmp["hf2"]);
        AssertOneLineError(c9, e9, "no architecture matching");
    }
}
