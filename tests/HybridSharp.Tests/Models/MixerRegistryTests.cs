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

    /// <summary>
    /// A packed row of several examples gives every example the logits it has alone, and the packed loss the gradients
    /// of the examples' losses summed: state-space layers start each example from a zero state.
    /// </summary>
    [Theory]
    [InlineData("transxssm-tiny")]   // SSD with conv + attention
    [InlineData("otce-tiny")]        // Mamba-1 with its own rotary table and logn scaling + attention
    [InlineData("cheems-tiny")]      // SSD without conv + DMA + CDMoE
    public void PackedRowsMatchEveryExampleAlone(string preset)
    {
        var cfg = Presets.Get(preset);
        using var model = new CausalLM(cfg, seed: 4);
        model.eval();   // no MoE auxiliary loss: it depends on the batch
        Assert.True(model.SupportsPacking);
        int[] lengths = [5, 9, 4];
        var gen = new Random(3);
        var examples = lengths.Select(n => Enumerable.Range(0, n).Select(_ => (long)gen.Next(cfg.VocabSize)).ToArray()).ToArray();
        using var ids = tensor(examples.SelectMany(e => e).ToArray()).unsqueeze(0);
        using var docs = tensor(examples.SelectMany((e, i) => Enumerable.Repeat((long)i, e.Length)).ToArray()).unsqueeze(0);
        long total = ids.shape[1];
        using var targets = cat([ids.narrow(1, 1, total - 1), full([1, 1], -100L)], 1);
        for (int e = 0, start = 0; e < examples.Length; start += examples[e].Length, e++)
            targets[0, start + examples[e].Length - 1] = -100;   // no target across an example boundary

        double worst = 0;
        using (no_grad())
        {
            using var packed = model.ForwardPacked(ids, docs);
            for (int e = 0, start = 0; e < examples.Length; start += examples[e].Length, e++)
            {
                using var alone = model.Forward(tensor(examples[e]).unsqueeze(0));
                worst = Math.Max(worst, (packed.narrow(1, start, examples[e].Length) - alone).abs().max().item<float>());
            }
        }
        Assert.True(worst <= 1e-5, $"{preset}: max |Δ logits| {worst:E2}");

        var packedGrads = Gradients(model, () => model.LossPacked(ids, targets, docs));
        long counted = examples.Sum(e => e.Length - 1);
        var aloneGrads = Gradients(model, () =>
        {
            Tensor sum = zeros(1);
            foreach (var e in examples)
            {
                using var x = tensor(e).unsqueeze(0);
                using var y = cat([x.narrow(1, 1, e.Length - 1), full([1, 1], -100L)], 1);
                sum = sum.add(model.Loss(x, y).mul(e.Length - 1));
            }
            return sum.div(counted);
        });
        double worstGrad = packedGrads.Zip(aloneGrads).Max(p => (p.First - p.Second).abs().max().item<float>());
        Assert.True(worstGrad <= 1e-5, $"{preset}: max |Δ grad| {worstGrad:E2}");
    }

    private static List<Tensor> Gradients(CausalLM model, Func<Tensor> loss)
    {
        model.zero_grad();
        using (var l = loss()) l.backward();
        return model.parameters().Select(p => p.grad is { } g ? g.clone() : zeros_like(p)).ToList();
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
