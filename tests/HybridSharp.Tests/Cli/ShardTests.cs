using System.Text.Json;
using HybridSharp.Eval.Mqar;
using HybridSharp.Runtime;
using HybridSharp.Tests.Distill;
using HybridSharp.TeacherSim;
using Xunit;

namespace HybridSharp.Tests.Cli;

/// <summary>
/// Sharded sweeps for array jobs: every work item belongs to exactly one shard, stably; shards of an MQAR grid or of a
/// distillation, run into separate folders and merged, give what one unsharded run gives.
/// </summary>
public sealed class ShardTests
{
    [Fact]
    public void EveryKeyHasExactlyOneStableShard()
    {
        var keys = Enumerable.Range(0, 500).Select(i => $"attention-d64-T{i}|p").ToList();
        var shards = Enumerable.Range(0, 7).Select(i => new WorkShard(i, 7)).ToList();
        Assert.All(keys, k => Assert.Single(shards, s => s.Owns(k)));
        Assert.All(shards, s => Assert.InRange(keys.Count(s.Owns), 40, 105));   // roughly even
        // FNV-1a 64 of "cell-key" is 15799336029191169079: the assignment must not change between versions.
        Assert.Equal((int)(15799336029191169079UL % 7), WorkShard.Of("cell-key", 7));
        Assert.Equal(new WorkShard(3, 8), WorkShard.Parse("3/8"));
        foreach (var bad in new[] { "8/8", "-1/4", "1/0", "1", "a/b", "1/2/3" })
            Assert.Throws<ArgumentException>(() => WorkShard.Parse(bad));
    }

    [Fact]
    public void MqarShardsMergeIntoTheWholeGrid()
    {
        using var tmp = new TempDir();
        string[] grid = ["mqar", "--mixers", "attention", "--d-models", "16", "--seq-lens", "16,32", "--pairs", "2,4", "--lrs", "3e-3",
            "--vocab", "64", "--train-tokens", "256", "--batch-tokens", "128", "--epochs", "1", "--test-examples", "4"];
        var keys = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            var (code, output, err) = HybridProcess.Run([.. grid, "--out", tmp[$"s{i}"], "--shard", $"{i}/3"]);
            Assert.True(code == 0, err);
            Assert.Contains($"shard {i}/3:", output);
            keys.AddRange(new MqarResultStore(tmp[$"s{i}"]).All.Select(r => r.Key));
        }
        Assert.Equal(4, keys.Count);                 // 2 T × 2 K cells, each trained by exactly one shard
        Assert.Equal(4, keys.Distinct().Count());

        var (mc, mo, me) = HybridProcess.Run([.. grid, "--out", tmp["all"], "--merge", tmp["s0"], tmp["s1"], tmp["s2"]]);
        Assert.True(mc == 0, me);
        Assert.Contains("merged 4 new results", mo);
        Assert.Contains("4 of 4 cells of this grid are done", mo);
        Assert.True(File.Exists(Path.Combine(tmp["all"], "mqar.md")));
        // The merged folder is a finished sweep: rerunning the grid there trains nothing.
        var (rc, ro, re) = HybridProcess.Run([.. grid, "--out", tmp["all"]]);
        Assert.True(rc == 0, re);
        Assert.Contains("0 cells trained, 4 skipped", ro);
        var (bc, _, be) = HybridProcess.Run([.. grid, "--out", tmp["x"], "--shard", "3/3"]);
        HybridProcess.AssertOneLineError(bc, be, "--shard 3/3");
    }

    [Fact]
    public async Task DistillShardsMergeIntoTheRowsOfOneRun()
    {
        using var tmp = new TempDir();
        await using var server = await DistillKit.Server();
        var problems = DistillKit.Arithmetic(24);
        File.WriteAllLines(tmp["in.jsonl"], problems.Select(p => JsonSerializer.Serialize(new { id = p.Id, problem = p.Problem, solution = p.Reference })));
        string[] Args(string output, params string[] extra) =>
            ["distill", "run", tmp["in.jsonl"], "--out", output, "--base-url", server.BaseUrl.ToString(), "--model", "scripted-teacher",
             "-j", "2", "--tokenizer", "byte", .. extra];

        var (code, _, err) = HybridProcess.Run(Args(tmp["whole"]));
        Assert.True(code == 0, err);
        for (int i = 0; i < 2; i++)
        {
            var (c, o, e) = HybridProcess.Run(Args(tmp[$"s{i}"], "--shard", $"{i}/2"));
            Assert.True(c == 0, o + e);
        }
        var (mc, mo, me) = HybridProcess.Run("distill", "merge", tmp["merged"], tmp["s0"], tmp["s1"], "--tokenizer", "byte");
        Assert.True(mc == 0, mo + me);
        Assert.Contains("Merged 24 rows from 2 folders", mo);
        static string[] Sorted(string path) => [.. File.ReadAllLines(path).Order(StringComparer.Ordinal)];
        Assert.Equal(Sorted(tmp["whole/sft.jsonl"]), Sorted(tmp["merged/sft.jsonl"]));
        Assert.True(File.Exists(tmp["merged/report.md"]));

        var (dc, _, de) = HybridProcess.Run("distill", "merge", tmp["twice"], tmp["s0"], tmp["s0"], "--tokenizer", "byte");
        HybridProcess.AssertOneLineError(dc, de, "merge the folders of one sharded run");
    }
}
