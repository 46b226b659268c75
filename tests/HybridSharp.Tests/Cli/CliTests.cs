using Xunit;
using HybridSharp.Checkpoints;

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
    public void MqarMixtureSweepThenReportOnlyFromTheStoredResults()
    {
        using var tmp = new TempDir();
        string[] grid = ["mqar", "--out", tmp["mq"], "--mixers", "attention", "--d-models", "16", "--seq-lens", "16,32", "--pairs", "2,4",
            "--lrs", "3e-3", "--vocab", "64", "--mixture", "--train-tokens", "512", "--batch-tokens", "128", "--epochs", "1", "--test-examples", "4"];
        var (c1, o1, e1) = HybridProcess.Run(grid);
        Assert.True(c1 == 0, e1);
        Assert.Contains("2 cells trained", o1);
        Assert.Contains("| T 16, K 2 | T 16, K 4 | T 32, K 2 | T 32, K 4 |", o1);
        File.Delete(Path.Combine(tmp["mq"], "mqar.md"));

        var (c2, o2, e2) = HybridProcess.Run([.. grid, "--report-only"]);
        Assert.True(c2 == 0, e2);
        Assert.Contains("2 of 2 cells of this grid are done", o2);
        Assert.True(File.Exists(Path.Combine(tmp["mq"], "mqar.md")));
        Assert.DoesNotContain("training (≤", o2);

        // Other flags = another protocol: nothing to summarise, one clear line; so are an empty folder and both batch options.
        var (c3, _, e3) = HybridProcess.Run([.. grid.Select(a => a == "512" ? "1024" : a), "--report-only"]);
        HybridProcess.AssertOneLineError(c3, e3, "match this protocol");
        var (c4, _, e4) = HybridProcess.Run("mqar", "--out", tmp["empty"], "--report-only");
        HybridProcess.AssertOneLineError(c4, e4, "results.jsonl");
        var (c5, _, e5) = HybridProcess.Run("mqar", "--out", tmp["x"], "--batch-size", "8", "--batch-tokens", "128");
        HybridProcess.AssertOneLineError(c5, e5, "not both");
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
        var (c6, o6, e6) = HybridProcess.Run("score", "--model", tmp["m"], "--text", "hello world", "--json");
        Assert.True(c6 == 0, e6);
        var scored = System.Text.Json.JsonDocument.Parse(o6).RootElement;
        var logprobs = scored.GetProperty("logprobs").EnumerateArray().Select(e => e.GetDouble()).ToList();
        Assert.Equal(11, logprobs.Count); // "hello world" after BOS: 11 bytes, each scored
        Assert.Equal(-logprobs.Sum(), scored.GetProperty("total_nll").GetDouble(), 9);
        Assert.Contains(logprobs, lp => Math.Round(lp, 4) != lp); // full precision, not 4 decimals
    }

    [Fact]
    public void MistypedCommandsGetASuggestion()
    {
        var (code, _, err) = HybridProcess.Run("trian", "--model", "m");
        HybridProcess.AssertOneLineError(code, err, "unknown command 'trian' — did you mean 'train'?");
        var (code2, _, err2) = HybridProcess.Run("xyzzy");
        HybridProcess.AssertOneLineError(code2, err2, "unknown command 'xyzzy'");
        Assert.DoesNotContain("did you mean", err2);
    }

    [Fact]
    public void QuickstartRunsEndToEndAndMarksItsHeldOutSample()
    {
        using var tmp = new TempDir();
        var (code, output, err) = HybridProcess.Run("quickstart", "--out", tmp["qs"], "--steps", "3", "--problems", "300", "--eval-problems", "4", "--minutes", "2");
        Assert.True(code == 0, output + err);
        Assert.Contains("sample from the held-out set", output);
        Assert.True(output.Contains("correct") || output.Contains("wrong"), output);
        Assert.True(File.Exists(Path.Combine(tmp["qs"], "arithmetic_eval.md")));
        Assert.True(Directory.Exists(Path.Combine(tmp["qs"], "model", HybridSharp.Training.MetricsLog.TensorBoardDirName)));
    }

    [Fact]
    public void QuickstartCompareTrainsAnEqualSizeTransformerAndPrintsBothSideBySide()
    {
        using var tmp = new TempDir();
        var args = new[] { "quickstart", "--out", tmp["qs"], "--steps", "4", "--problems", "200", "--eval-problems", "3", "--minutes", "2", "--compare" };
        var (code, output, err) = HybridProcess.Run(args);
        Assert.True(code == 0, output + err);
        Assert.Contains("same problems, same wall time", output);
        foreach (var row in new[] { "parameters", "training tok/s", "validation loss", "accuracy", "decode tok/s at 1,888 tokens" })
            Assert.Contains(row, output);
        Assert.True(File.Exists(Path.Combine(tmp["qs"], "baseline", "model.safetensors")));
        var (config, _) = HybridSharp.Checkpoints.ModelDirectory.Load(Path.Combine(tmp["qs"], "baseline"));
        using (config) Assert.All(config.Config.LayerTypes!, t => Assert.Equal("attention", t));

        // A rerun finds both models trained and only evaluates and compares them.
        var (code2, output2, err2) = HybridProcess.Run(args);
        Assert.True(code2 == 0, output2 + err2);
        Assert.Contains("already trained", output2);
        Assert.Contains("Baseline in", output2);
    }
}
