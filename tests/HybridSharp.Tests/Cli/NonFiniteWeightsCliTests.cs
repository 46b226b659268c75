using HybridSharp.Checkpoints;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Cli;

[Collection("Torch")]
public sealed class NonFiniteWeightsCliTests
{
    [Fact]
    public void NaNWeightsGiveOneErrorLineAndTheFlagLoadsThem()
    {
        using var tmp = new TempDir();
        var cfg = TinyModels.Transformer(tie: true);
        cfg.VocabSize = 261;
        using (var model = new CausalLM(cfg))
        {
            using (no_grad()) model.named_parameters().First(p => p.name == "model.norm.weight").parameter[2] = float.PositiveInfinity;
            ModelDirectory.Save(model, new ByteTokenizer(), tmp["m"]);
        }
        var (code, _, err) = HybridProcess.Run("score", "--model", tmp["m"], "--text", "hello");
        HybridProcess.AssertOneLineError(code, err, "model.norm.weight");
        Assert.Contains("set --allow-nonfinite to load it anyway", err);
        var (ok, _, okErr) = HybridProcess.Run("score", "--model", tmp["m"], "--text", "hello", "--allow-nonfinite");
        Assert.True(ok == 0, okErr);
    }
}
