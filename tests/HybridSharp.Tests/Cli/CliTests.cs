using Xunit;

namespace HybridSharp.Tests.Cli;

/// <summary>Runs the real `hybrid` executable: user mistakes give one "error:" line and a non-zero exit code.</summary>
[Collection("Torch")]
public sealed class CliTests
{


    [Fact]
    public void UserMistakesGiveOneClearLine()
    {
        using var tmp = new TempDir();
        var (c1, _, e1) = HybridProcess.Run("train", "--model", tmp["nope"], "--data", tmp["nodata"]);
        HybridProcess.AssertOneLineError(c1, e1, "nodata");
        var (c2, _, e2) = HybridProcess.Run("info", "--preset", "no-such-preset");
        HybridProcess.AssertOneLineError(c2, e2, "unknown preset");
        var (c3, _, e3) = HybridProcess.Run("generate", "--model", tmp["missing"], "--prompt", "x", "--no-such-flag");
        HybridProcess.AssertOneLineError(c3, e3, "--no-such-flag");
        var (c4, _, e4) = HybridProcess.Run("generate", "--model", tmp["missing"], "--prompt", "x");
        HybridProcess.AssertOneLineError(c4, e4, "not found");
        var (c5, _, e5) = HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny", "--seed", "notanumber");
        HybridProcess.AssertOneLineError(c5, e5, "notanumber");
        File.WriteAllText(tmp["bad.json"], "{ not json");
        var (c6, _, e6) = HybridProcess.Run("init", tmp["m2"], "--config", tmp["bad.json"]);
        HybridProcess.AssertOneLineError(c6, e6, "bad.json");
    }

    [Fact]
    public void InitInfoGenerateAndRefuseToOverwrite()
    {
        using var tmp = new TempDir();
        var (c1, o1, e1) = HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny");
        Assert.True(c1 == 0, e1);
        Assert.Contains("parameters", o1);
        var (c2, _, e2) = HybridProcess.Run("init", tmp["m"]);
        HybridProcess.AssertOneLineError(c2, e2, "--force");
        var (c3, o3, e3) = HybridProcess.Run("info", "--model", tmp["m"], "--context", "512");
        Assert.True(c3 == 0, e3);
        Assert.Contains("attention", o3);
        Assert.Contains("FLOPs", o3);
        var (c4, o4, e4) = HybridProcess.Run("generate", "--model", tmp["m"], "--prompt", "Hi", "-n", "5", "-t", "0");
        Assert.True(c4 == 0, e4);
        Assert.StartsWith("Hi", o4);
        var (c5, o5, e5) = HybridProcess.Run("score", "--model", tmp["m"], "--text", "hello world");
        Assert.True(c5 == 0, e5);
        Assert.Contains("perplexity", o5);
    }
}
