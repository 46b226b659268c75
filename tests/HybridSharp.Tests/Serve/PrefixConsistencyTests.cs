using HybridSharp.Config;
using HybridSharp.Models;
using HybridSharp.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Serve;

[Collection("Torch")]
public sealed class PrefixConsistencyTests
{
    /// <summary>A prompt's last logits do not depend on tokens after it (causality, to fp32 rounding), for every mixer.</summary>
    [Theory]
    [InlineData(MixerTypes.Attention)]
    [InlineData(MixerTypes.Ssd)]
    [InlineData(MixerTypes.Dma)]
    [InlineData(MixerTypes.Mamba1)]
    [InlineData("all")]
    public void PrefixLogitsDoNotDependOnLaterTokens(string layerType)
    {
        var cfg = SlotCacheTests.MixedConfig();
        if (layerType != "all")
        {
            cfg.NumHiddenLayers = 1;
            cfg.LayerTypes = [layerType];
            cfg.MlpTypes = [cfg.MlpType(0)];
        }
        using var model = new CausalLM(cfg, seed: 5);
        model.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(Enumerable.Range(0, 16).Select(i => (long)(i * 37 % 250)).ToArray(), [1, 16]);
        var full = model.Forward(ids);
        for (int t = 1; t <= 16; t++)
        {
            var part = model.Forward(ids.narrow(1, 0, t));
            double diff = part.sub(full.narrow(1, 0, t)).abs().max().item<float>();
            Assert.True(diff < 1e-5, $"{layerType}: prefix {t} differs by {diff}");
            using var cache = model.NewCache(1, 32);
            var cached = model.Forward(ids.narrow(1, 0, t), cache);
            double cdiff = cached.sub(full.narrow(1, 0, t)).abs().max().item<float>();
            Assert.True(cdiff < 1e-5, $"{layerType}: prefix {t} with a cache differs by {cdiff}");
        }
    }
}
