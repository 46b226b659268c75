using HybridSharp.Tests.Cli;
using Xunit;

namespace HybridSharp.Tests.HfInterop;

/// <summary>`hybrid import` / `hybrid export` through the real executable: results on stdout, mistakes as one "error:" line.</summary>
[Collection("Torch")]
public sealed class HfCliTests
{


    [Fact]
    public void ExportImportAndMistakes()
    {
        using var tmp = new TempDir();
        var (c0, _, e0) = HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny");
        Assert.True(c0 == 0, e0);

        var (c1, o1, e1) = HybridProcess.Run("export", tmp["m"], tmp["hf"], "--format", "hf");
        Assert.True(c1 == 0, e1);
        Assert.Contains("LlamaForCausalLM", o1);
        Assert.True(File.Exists(tmp["hf/tokenizer.json"]));

        var (c2, _, e2) = HybridProcess.Run("export", tmp["m"], tmp["hf"]);
        HybridProcess.AssertOneLineError(c2, e2, "--force");
        var (c3, _, e3) = HybridProcess.Run("export", tmp["m"], tmp["hf"], "--dtype", "fp64", "--force");
        HybridProcess.AssertOneLineError(c3, e3, "unknown dtype");
        var (c4, o4, e4) = HybridProcess.Run("export", tmp["m"], tmp["hf"], "--dtype", "bfloat16", "--force");
        Assert.True(c4 == 0, e4);
        Assert.Contains("bfloat16", o4);

        var (c5, o5, e5) = HybridProcess.Run("import", tmp["hf"], tmp["back"]);
        Assert.True(c5 == 0, e5);
        Assert.Contains("Imported", o5);
        var (c6, o6, e6) = HybridProcess.Run("generate", "--model", tmp["back"], "--prompt", "Hi", "-n", "3", "-t", "0");
        Assert.True(c6 == 0, e6);
        Assert.StartsWith("Hi", o6);

        Directory.CreateDirectory(tmp["bert"]);
        File.WriteAllText(tmp["bert/config.json"], """{"model_type": "bert"}""");
        var (c7, _, e7) = HybridProcess.Run("import", tmp["bert"], tmp["x"]);
        HybridProcess.AssertOneLineError(c7, e7, "model_type 'bert' is not supported");

        var (c8, _, e8) = HybridProcess.Run("init", tmp["hyb"], "--preset", "transxssm-tiny");
        Assert.True(c8 == 0, e8);
        var (c9, _, e9) = HybridProcess.Run("export", tmp["hyb"], tmp["hf2"]);
        HybridProcess.AssertOneLineError(c9, e9, "no architecture matching");
    }
}
