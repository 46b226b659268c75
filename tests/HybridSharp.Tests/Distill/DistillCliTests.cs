using System.Text.Json;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Tests.Cli;
using Xunit;

namespace HybridSharp.Tests.Distill;

public class DistillCliTests
{
    [Fact]
    public async Task Run_Export_Stats_EndToEnd_AndRerunSendsNothing()
    {
        using var dir = new TempDir();
        await using var server = await DistillKit.Server();
        var problems = DistillKit.Arithmetic(10);
        DistillKit.AddFaults(problems, "wrong", "429*1");
        File.WriteAllLines(dir["in.jsonl"], problems.Select(p => JsonSerializer.Serialize(new { id = p.Id, question = p.Problem, answer = p.Reference })));
        string[] args = ["distill", "run", dir["in.jsonl"], "--out", dir["out"], "--base-url", server.BaseUrl.ToString(), "--model", "scripted-teacher",
            "--problem-field", "question", "--reference-field", "answer", "--stream", "-j", "4", "--tokenizer", "byte", "--price-input", "1", "--price-output", "2"];
        var (code, stdout, stderr) = HybridProcess.Run(args);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("accepted 11, rejected 1", stdout);
        Assert.Equal(11, File.ReadAllLines(dir["out/sft.jsonl"]).Length);
        Assert.Contains("| answer | 1 |", File.ReadAllText(dir["out/report.md"]));
        int sent = server.Requests.Count;

        (code, stdout, stderr) = HybridProcess.Run(args);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(sent, server.Requests.Count);
        Assert.Contains("0 sent", stdout);

        (code, stdout, stderr) = HybridProcess.Run("distill", "export", dir["out"], "--to", dir["again"], "--no-parquet");
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(File.ReadAllBytes(dir["out/sft.jsonl"]), File.ReadAllBytes(dir["again/sft.jsonl"]));

        // For a student with a real chat template, each row also carries the text SFT trains on and its token count.
        var qwen = HybridSharp.Tests.Reference.NodeReference.TokenizerDir("qwen3");
        (code, stdout, stderr) = HybridProcess.Run("distill", "export", dir["out"], "--to", dir["student"], "--no-parquet", "--student", qwen);
        Assert.True(code == 0, stdout + stderr);
        var row = JsonDocument.Parse(File.ReadAllLines(dir["student/sft.jsonl"])[0]).RootElement;
        var text = row.GetProperty("text").GetString()!;
        var question = row.GetProperty("problem").GetString()!;
        Assert.StartsWith($"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n", text);
        Assert.EndsWith("<|im_end|>\n", text);
        Assert.Equal(HybridSharp.Data.Tokenizers.TokenizerFactory.Load(qwen).Encode(text).Length, row.GetProperty("tokens").GetInt32());
        (code, _, stderr) = HybridProcess.Run("distill", "export", dir["out"], "--to", dir["student2"], "--student", dir["nowhere"]);
        HybridProcess.AssertOneLineError(code, stderr, "--student: directory not found");
        (code, stdout, stderr) = HybridProcess.Run("distill", "stats", dir["out"], "--tokenizer", "byte");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("| all | 11 |", stdout);
    }

    [Theory]
    [InlineData("--mode", "three-call", "--mode must be one-call or two-call")]
    [InlineData("--validators", "answer,typo", "unknown validator 'typo'")]
    [InlineData("--filters", "pictures", "--filters: unknown value 'pictures'")]
    [InlineData("--concurrency", "0", "--concurrency must be at least 1")]
    public void UserMistakes_GiveOneErrorLine(string option, string value, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["in.jsonl"], "{\"problem\": \"1+1?\", \"solution\": \"\\\\boxed{2}\"}\n");
        var (code, _, err) = HybridProcess.Run("distill", "run", dir["in.jsonl"], "--out", dir["out"], "--base-url", "http://127.0.0.1:9/v1", "--model", "m", option, value);
        HybridProcess.AssertOneLineError(code, err, expected);
    }

    [Fact]
    public void MissingInputs_AndSettings_GiveOneErrorLine()
    {
        using var dir = new TempDir();
        var (code, _, err) = HybridProcess.Run("distill", "run", dir["none.jsonl"], "--base-url", "http://127.0.0.1:9/v1", "--model", "m");
        HybridProcess.AssertOneLineError(code, err, "data file not found");
        File.WriteAllText(dir["in.jsonl"], "{\"question\": \"1+1?\"}\n");
        (code, _, err) = HybridProcess.Run("distill", "run", dir["in.jsonl"], "--base-url", "http://127.0.0.1:9/v1", "--model", "m");
        HybridProcess.AssertOneLineError(code, err, "field \"problem\" is missing");
        (code, _, err) = HybridProcess.Run("distill", "run", dir["in.jsonl"], "--model", "m");
        HybridProcess.AssertOneLineError(code, err, "--base-url is required");
        (code, _, err) = HybridProcess.Run("distill", "export", dir["nowhere"]);
        HybridProcess.AssertOneLineError(code, err, "holds no distill.db");
    }
}
