using HybridSharp.Config;
using HybridSharp.Models;
using HybridSharp.Training;
using Xunit;

namespace HybridSharp.Tests.Training;

[Collection(nameof(TorchCollection))]
public sealed class WeightDecayGroupsTests
{
    [Theory]
    [InlineData("otce-tiny")]
    [InlineData("cheems-tiny")]
    public void MatricesDecayNormsBiasesAndSsmScalarsDoNot(string preset)
    {
        using var model = new CausalLM(Presets.Get(preset));
        var decayed = model.named_parameters().Where(p => WeightDecayGroups.Decays(p.name, p.parameter)).Select(p => p.name).ToList();
        var kept = model.named_parameters().Where(p => !WeightDecayGroups.Decays(p.name, p.parameter)).Select(p => p.name).ToList();
        Assert.Contains("model.embed_tokens.weight", decayed);
        Assert.Contains(decayed, n => n.EndsWith("in_proj.weight"));
        Assert.All(kept, n => Assert.True(n.EndsWith("norm.weight") || n.EndsWith("_residual") || n.EndsWith("A_log")
            || n.EndsWith(".D") || n.EndsWith("dt_bias") || n.EndsWith(".A") || n.EndsWith(".bias"), n));
        Assert.DoesNotContain(decayed, n => n.EndsWith("A_log") || n.EndsWith("norm.weight"));

        using var optimizer = WeightDecayGroups.AdamW(model, 1e-3, 0.1);
        var groups = optimizer.ParamGroups.Cast<TorchSharp.Modules.AdamW.ParamGroup>().ToList();
        Assert.Equal([0.1, 0.0], groups.Select(g => g.Options.weight_decay));
        Assert.Equal(decayed.Count, groups[0].Parameters.Count());
        Assert.Equal(kept.Count, groups[1].Parameters.Count());
    }
}
