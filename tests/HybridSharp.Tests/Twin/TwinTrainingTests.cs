using System.Text.Json;
using HybridSharp.Tests.Cli;
using HybridSharp.Tests.Reference;
using HybridSharp.Training;
using Xunit;

namespace HybridSharp.Tests.Twin;

/// <summary>
/// Training beyond one machine: the twin trains a tiny hybrid under <c>torchrun</c> with two processes
/// (DistributedDataParallel on gloo) from the same init and the same token shards as <c>hybrid train</c>; the losses agree
/// with the C# trainer's, and the C# commands load the twin's output and score it like the C#-trained model.
/// </summary>
[Collection("Torch")]
public sealed class TwinTrainingTests
{
    [Fact]
    public void TorchrunDdpTrainsLikeHybridTrainAndHybridLoadsTheResult()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["init"], "--preset", "transxssm-tiny").Code);
        Assert.Equal(0, HybridProcess.Run("data", tmp["d"], "--arithmetic", "600", "--max-difficulty", "2").Code);
        Assert.Equal(0, HybridProcess.Run("init", tmp["cs"], "--preset", "transxssm-tiny").Code);   // the same init (same seed)

        // C#: one process, 4 rows per step. Twin: two processes of 2 rows each = the same 4 rows per step.
        var (code, _, err) = HybridProcess.Run("train", "--model", tmp["cs"], "--data", tmp["d"], "--steps", "20", "--batch-size", "4",
            "--seq-len", "64", "--eval-every", "0");
        Assert.True(code == 0, err);
        // Debian's torch 1.13 on Python 3.11 cannot parse torchrun's default log redirection ("0"); "1" works everywhere.
        TorchTwin.Run(["--redirects", "1", "--tee", "1", "--nproc_per_node", "2", TorchTwin.Script, "train", tmp["init"],
            "--data", tmp["d"], "--steps", "20", "--batch-size", "2", "--seq-len", "64", "--out", tmp["twin"],
            "--losses", tmp["losses.json"]], program: "/usr/bin/torchrun", env: new Dictionary<string, string> { ["OMP_NUM_THREADS"] = "1" });

        using var losses = JsonDocument.Parse(File.ReadAllText(tmp["losses.json"]));
        Assert.Equal(2, losses.RootElement.GetProperty("world_size").GetInt32());
        var twin = losses.RootElement.GetProperty("losses").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(20, twin.Length);
        var csharp = MetricsLog.Read(Path.Combine(tmp["cs"], Trainer.MetricsFileName)).ToList();
        Assert.Equal([10, 20], csharp.Select(m => m.Step));
        foreach (var m in csharp)
            Assert.True(Math.Abs(m.Loss!.Value - twin[m.Step - 1]) <= 1e-3, $"step {m.Step}: C# {m.Loss:F5}, twin {twin[m.Step - 1]:F5}");
        Assert.True(twin[^1] < twin[0] - 1.0, "the twin did not learn");

        // hybrid loads the twin's output directory unchanged and scores it like the C#-trained model.
        const string text = "Question: 3+4? Answer: 7";
        double[] Score(string dir)
        {
            var (c, o, e) = HybridProcess.Run("score", "--model", dir, "--text", text, "--json");
            Assert.True(c == 0, e);
            using var doc = JsonDocument.Parse(o);
            return [.. doc.RootElement.GetProperty("logprobs").EnumerateArray().Select(x => x.GetDouble())];
        }
        var fromTwin = Score(tmp["twin"]);
        var fromCs = Score(tmp["cs"]);
        Assert.Equal(fromCs.Length, fromTwin.Length);
        Assert.True(fromCs.Zip(fromTwin).All(p => Math.Abs(p.First - p.Second) <= 1e-3),
            $"max log-prob difference {fromCs.Zip(fromTwin).Max(p => Math.Abs(p.First - p.Second)):E2}");
        var (gen, _, genErr) = HybridProcess.Run("generate", "--model", tmp["twin"], "--prompt", "Question: ", "--max-tokens", "8");
        Assert.True(gen == 0, genErr);
    }
}
