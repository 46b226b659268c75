using HybridSharp.Caching;
using HybridSharp.Config;
using HybridSharp.Models;
using HybridSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Models;

[Collection(nameof(TorchCollection))]
public sealed class MixerRegistryTests
{
    [Fact]
    public void RegistryHasOneEntryPerLayerType()
    {
        Assert.Equal(MixerTypes.All.Order(), MixerRegistry.All.Select(k => k.LayerType).Order());
        var ex = Assert.Throws<ConfigException>(() => MixerRegistry.Get("lstm"));
        Assert.Contains("unknown mixer 'lstm'", ex.Message);
        Assert.Contains("mamba1", ex.Message);
    }

    /// <summary>The registry's parameter count and cache size are what the built mixer really holds and allocates.</summary>
    [Theory]
    [InlineData("transformer-tiny")]   // attention
    [InlineData("transxssm-tiny")]     // SSD + attention
    [InlineData("doge-tiny")]          // DMA
    [InlineData("otce-tiny")]          // Mamba-1 + attention
    [InlineData("cheems-tiny")]        // stripped SSD (no conv) + DMA
    public void CostAndCacheSizeMatchTheBuiltModel(string preset)
    {
        var cfg = Presets.Get(preset);
        using var model = new CausalLM(cfg);
        const int capacity = 24;
        var info = ModelInfo.For(cfg, capacity);
        foreach (var layer in model.Layers)
        {
            var kind = MixerRegistry.Of(cfg, layer.Index);
            long real = ((nn.Module)layer.Mixer).parameters().Sum(p => p.numel());
            Assert.Equal(real, kind.Cost(cfg, capacity).Parameters);
        }
        Assert.Equal(model.ParameterCount(), info.TotalParameters);

        using var _ = no_grad();
        using var cache = model.NewCache(1, capacity);
        using (NewDisposeScope()) model.Forward(randint(0, cfg.VocabSize, [1, 5]), cache);
        long allocated = cache.Layers.Sum(l => Bytes(l!));
        Assert.Equal(allocated, info.CacheBytesPerSequence);
    }

    [Fact]
    public void StateSpaceMixersRefusePackedRows()
    {
        var cfg = Presets.Get("transxssm-tiny");
        using var model = new CausalLM(cfg);
        Assert.False(model.SupportsPacking);
        Assert.False(MixerRegistry.Get(MixerTypes.Ssd).SupportsPacking);
        Assert.True(MixerRegistry.Get(MixerTypes.Dma).SupportsPacking);
        using var x = randn(1, 4, cfg.HiddenSize);
        using var cos = ones(1, 4, cfg.HeadDim);
        using var sin = zeros(1, 4, cfg.HeadDim);
        using var docs = tensor(new long[] { 0, 0, 1, 1 }).unsqueeze(0);
        var ssd = model.Layers.First(l => l.MixerType == MixerTypes.Ssd).Mixer;
        Assert.Throws<NotSupportedException>(() => ssd.Forward(x, new MixerInputs { Cos = cos, Sin = sin, DocumentIds = docs }));
        Assert.Throws<NotSupportedException>(() => model.ForwardPacked(randint(0, cfg.VocabSize, [1, 4]), docs));
    }

    private static long Bytes(ILayerCache cache) => cache switch
    {
        KvCache kv => kv.Keys.NumberOfElements * kv.Keys.ElementSize + kv.Values.NumberOfElements * kv.Values.ElementSize,
        DmaKvCache dma => Bytes(dma.Kv) + dma.Delta.NumberOfElements * dma.Delta.ElementSize,
        SsdCache ssd => (ssd.ConvState is { } c ? c.NumberOfElements * c.ElementSize : 0) + ssd.SsmState.NumberOfElements * ssd.SsmState.ElementSize,
        Mamba1Cache m => m.ConvState.NumberOfElements * m.ConvState.ElementSize + m.SsmState.NumberOfElements * m.SsmState.ElementSize,
        _ => throw new InvalidOperationException($"unknown layer cache {cache.GetType().Name}"),
    };
}
