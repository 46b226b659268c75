using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using Xunit;
using static TorchSharp.torch;
using HybridSharp.Checkpoints;
using HybridSharp.Caching;

namespace HybridSharp.Tests.Models;

/// <summary>Every preset: prefill + decode equals the full forward, causality, save/load, a generation.</summary>
[Collection("Torch")]
public sealed class PresetTests
{
    /// <summary>Every preset small enough for a quick CPU test (the 60M-shape ones are covered by their tiny siblings).</summary>
    public static TheoryData<string> PresetNames() =>
        new(Presets.Names.Where(n => ModelInfo.For(Presets.Get(n), 1).TotalParameters < 15_000_000));

    private static ModelConfig Small(string name)
    {
        var cfg = Presets.Get(name);
        if (cfg.Ssd is not null) cfg.Ssd.ChunkSize = 4; // several chunks even for short test sequences
        return cfg;
    }

    private static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Theory]
    [MemberData(nameof(PresetNames))]
    public void PrefillChunkedPrefillAndDecodeEqualTheFullForward(string name)
    {
        using var model = new CausalLM(Small(name), seed: 3);
        model.eval();
        using var _ = no_grad();
        manual_seed(5);
        using var ids = randint(0, model.Config.VocabSize, [2, 14], dtype: ScalarType.Int64);
        using var full = model.Forward(ids);
        using var cache = model.NewCache(2, 20);
        var parts = new List<Tensor> { model.Forward(ids.narrow(1, 0, 6), cache), model.Forward(ids.narrow(1, 6, 5), cache) };
        for (int i = 11; i < 14; i++) parts.Add(model.Forward(ids.narrow(1, i, 1), cache));
        using var stitched = cat(parts, 1);
        Assert.True(MaxDiff(full, stitched) <= 1e-4, $"{name}: max diff {MaxDiff(full, stitched)}");
    }

    [Theory]
    [MemberData(nameof(PresetNames))]
    public void LaterTokensNeverChangeEarlierLogits(string name)
    {
        using var model = new CausalLM(Small(name), seed: 4);
        model.eval();
        using var _ = no_grad();
        using var ids = randint(0, model.Config.VocabSize, [1, 11], dtype: ScalarType.Int64);
        using var ids2 = ids.clone();
        ids2[0, 7] = (ids[0, 7] + 1) % model.Config.VocabSize;
        using var a = model.Forward(ids);
        using var b = model.Forward(ids2);
        Assert.Equal(0.0, MaxDiff(a.narrow(1, 0, 7), b.narrow(1, 0, 7)));
        Assert.True(MaxDiff(a.narrow(1, 7, 4), b.narrow(1, 7, 4)) > 0);
    }

    [Theory]
    [InlineData("mamba2")]
    [InlineData("transxssm")]
    public void SaveLoadRoundTripAndLeftPaddedGeneration(string name)
    {
        using var tmp = new TempDir();
        using var model = new CausalLM(Small(name), seed: 8);
        ModelDirectory.Save(model, new ByteTokenizer(), tmp.Path);
        var (loaded, tok) = ModelDirectory.Load(tmp.Path);
        using var _ = loaded;
        var a = model.state_dict();
        var b = loaded.state_dict();
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        foreach (var (k, t) in a) Assert.True(t.Equals(b[k]), k);

        var gen = new TextGenerator(loaded, tok);
        var options = new GenerationOptions { MaxNewTokens = 6, Sampling = SamplingOptions.Greedy, StopTokens = [] };
        var batched = gen.Generate(["a longer prompt", "hi"], options);
        Assert.Equal(gen.Generate("a longer prompt", options).TokenIds, batched[0].TokenIds);
        Assert.Equal(gen.Generate("hi", options).TokenIds, batched[1].TokenIds);
    }

    [Fact]
    public void SsdDecodeStateDoesNotGrowWithLength()
    {
        using var model = new CausalLM(Small("mamba2"), seed: 1);
        model.eval();
        using var _ = inference_mode();
        using var cache = model.NewCache(1, 200);
        model.Forward(tensor(new long[] { 1, 2, 3 }).reshape(1, 3), cache).Dispose();
        long Elements() => cache.Layers.OfType<SsdCache>().Sum(c => c.ElementCount);
        long before = Elements();
        for (int i = 0; i < 150; i++) model.Forward(tensor(new long[] { i % 200 }).reshape(1, 1), cache).Dispose();
        Assert.Equal(before, Elements());
        Assert.True(before > 0);
    }

    [Fact]
    public void TransXssmUsesOneAttentionLayerEveryEighth()
    {
        var cfg = Presets.Get("transxssm");
        Assert.Equal(["ssd", "ssd", "ssd", "ssd", "ssd", "ssd", "ssd", "attention"], cfg.LayerTypes!);
        Assert.True(cfg.Ssd!.Rope);
        Assert.False(Presets.Get("transxssm-norope").Ssd!.Rope);
        Assert.Equal(["ssd", "ssd", "attention", "ssd", "ssd", "attention"], LayerPattern.Periodic(6, 3, 2, "attention", "ssd"));
        var info = ModelInfo.For(cfg, 4096);
        Assert.True(info.Layers[0].ForwardFlopsPerToken < info.Layers[7].ForwardFlopsPerToken); // attention grows with context
    }
}

[Collection("Torch")]
public sealed class ModelInfoTests
{
    [Theory]
    [MemberData(nameof(PresetTests.PresetNames), MemberType = typeof(PresetTests))]
    public void ParameterCountFromConfigMatchesTheBuiltModel(string name)
    {
        var cfg = Presets.Get(name);
        using var model = new CausalLM(cfg);
        var info = ModelInfo.For(cfg, 1024);
        Assert.Equal(model.ParameterCount(), info.TotalParameters);
        Assert.Equal(model.ParameterCount(nonEmbedding: true), info.NonEmbeddingParameters);
        Assert.True(info.TrainingFlopsPerToken > 6.0 * info.NonEmbeddingParameters);
    }
}
