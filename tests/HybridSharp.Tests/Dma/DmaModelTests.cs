using HybridSharp.Config;
using HybridSharp.Models;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Dma;

[Collection("Torch")]
public sealed class DmaModelTests(ITestOutputHelper output)
{
    private static ModelConfig Cfg(string[] types, int window, bool tie = true) => new()
    {
        VocabSize = 37, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = types.Length,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 256, TieWordEmbeddings = tie,
        UseResidualVectors = true, LayerTypes = [.. types],
        Dma = new DmaConfig { KeepWindowSize = window, QkNorm = true },
    };

    private static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Theory]
    [InlineData(3)]
    [InlineData(64)]
    public void PrefillDecodeEqualsFull(int window)
    {
        using var model = new CausalLM(Cfg(["dma", "attention", "dma"], window), seed: 7);
        model.eval();
        using var _ = no_grad();
        // random nonzero A so the bias matters
        foreach (var (n, p) in model.named_parameters()) if (n.EndsWith(".A")) p.uniform_(-3, -0.5);
        torch.manual_seed(3);
        using var ids = randint(0, 37, [2, 12], dtype: ScalarType.Int64);
        using var full = model.Forward(ids);
        using var cache = model.NewCache(2, 32);
        var parts = new List<Tensor> { model.Forward(ids.narrow(1, 0, 5), cache), model.Forward(ids.narrow(1, 5, 4), cache) };
        for (int i = 9; i < 12; i++) parts.Add(model.Forward(ids.narrow(1, i, 1), cache));
        using var stitched = cat(parts, 1);
        output.WriteLine($"CausalLM window {window}: {MaxDiff(full, stitched):E2}");
        Assert.True(MaxDiff(full, stitched) <= 1e-5, $"max diff {MaxDiff(full, stitched)}");
    }

    [Fact]
    public void ZeroInitEqualsAttentionModel()
    {
        var dmaCfg = Cfg(["dma", "dma"], 64);
        dmaCfg.Dma!.QkNorm = false;
        using var dmaModel = new CausalLM(dmaCfg, seed: 7);
        var attCfg = Cfg(["attention", "attention"], 64);
        using var attModel = new CausalLM(attCfg, seed: 7);
        dmaModel.eval(); attModel.eval();
        using var _ = no_grad();
        var src = dmaModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (n, p) in attModel.named_parameters()) p.copy_(src[n]);
        using var ids = randint(0, 37, [2, 10], dtype: ScalarType.Int64);
        using var a = dmaModel.Forward(ids);
        using var b = attModel.Forward(ids);
        Assert.True(MaxDiff(a, b) <= 1e-5, $"{MaxDiff(a, b)}");
        var names = dmaModel.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("model.layers.0.self_attn.A", names);
        Assert.Contains("model.layers.0.self_attn.dt_proj.weight", names);
        Assert.Equal(0f, src["model.layers.0.self_attn.A"].abs().sum().item<float>());
    }

    [Fact]
    public void LeftPaddedBatchMatchesSingleSequences()
    {
        using var model = new CausalLM(Cfg(["dma", "dma"], 2), seed: 5);
        model.eval();
        using var _ = no_grad();
        foreach (var (n, p) in model.named_parameters()) if (n.EndsWith(".A")) p.uniform_(-3, -0.5);
        using var longIds = tensor(new long[] { 1, 2, 3, 4, 5, 6 }).reshape(1, 6);
        using var shortIds = tensor(new long[] { 7, 8, 9 }).reshape(1, 3);
        using var batch = tensor(new long[] { 1, 2, 3, 4, 5, 6, 0, 0, 0, 7, 8, 9 }).reshape(2, 6);
        using var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1 }).reshape(2, 6);
        using var cache = model.NewCache(2, 10);
        using var batched = model.Forward(batch, cache, mask);
        using var refLong = model.Forward(longIds);
        using var refShort = model.Forward(shortIds);
        Assert.True(MaxDiff(batched[0], refLong[0]) < 1e-5);
        Assert.True(MaxDiff(batched[1].narrow(0, 3, 3), refShort[0]) < 1e-5);
        using var noCache = model.Forward(batch, null, mask);
        Assert.True(MaxDiff(noCache[1].narrow(0, 3, 3), refShort[0]) < 1e-5);
        using var next = tensor(new long[] { 10, 11 }).reshape(2, 1);
        using var step = model.Forward(next, cache);
        using var refLong2 = model.Forward(cat([longIds, tensor(new long[] { 10 }).reshape(1, 1)], 1));
        using var refShort2 = model.Forward(cat([shortIds, tensor(new long[] { 11 }).reshape(1, 1)], 1));
        Assert.True(MaxDiff(step[0, 0], refLong2[0, 6]) < 1e-5);
        Assert.True(MaxDiff(step[1, 0], refShort2[0, 3]) < 1e-5);
    }

    [Fact]
    public void ConfigJsonRoundTrip()
    {
        var cfg = Cfg(["dma", "ssd"], 5);
        cfg.Ssd = new SsdConfig { HeadDim = 8, StateSize = 8, ChunkSize = 4 };
        var json = cfg.ToJson();
        Assert.Contains("\"dma\"", json);
        Assert.Contains("\"keep_window_size\": 5", json);
        var back = ModelConfig.FromJson(json);
        Assert.Equal(5, back.Dma!.KeepWindowSize);
        Assert.True(back.Dma.QkNorm);
        var bad = Cfg(["dma"], 0);
        Assert.Throws<ConfigException>(() => bad.Validate());
        var noSection = Cfg(["dma"], 3);
        noSection.Dma = null;
        Assert.Throws<ConfigException>(() => noSection.Validate());   // defaults come from Resolve, nowhere else
        noSection.Resolve();
        Assert.Equal(DmaConfig.DefaultKeepWindowSize, noSection.Dma!.KeepWindowSize);
        noSection.Dma = null;
        using var m = new CausalLM(noSection);                         // the model resolves what it is given
        Assert.NotNull(m.Config.Dma);
    }

    /// <summary>
    /// At A = 0 the dynamic bias exp(A·Δ) is 1 for every key whatever Δ is, so A gets a gradient (through Δ, which
    /// differs per key) while dt_proj gets none; once A moves off zero, dt_proj learns too.
    /// </summary>
    [Fact]
    public void TrainingStepUpdatesAAndThenDtProj()
    {
        using var model = new CausalLM(Cfg(["dma"], 64), seed: 1);
        model.train();
        torch.manual_seed(2);
        using var ids = randint(0, 37, [2, 8], dtype: ScalarType.Int64);
        using var tgt = randint(0, 37, [2, 8], dtype: ScalarType.Int64);
        var a = model.named_parameters().Single(p => p.name == "model.layers.0.self_attn.A").parameter;
        var dt = model.named_parameters().Single(p => p.name == "model.layers.0.self_attn.dt_proj.weight").parameter;
        Assert.Equal(0f, a.abs().max().item<float>());
        using (var loss = model.Loss(ids, tgt)) loss.backward();
        float gA = a.grad!.abs().max().item<float>(), gDt = dt.grad!.abs().max().item<float>();
        output.WriteLine($"|grad A| at A=0: {gA:E2}, |grad dt_proj|: {gDt:E2}");
        Assert.True(gA > 1e-7 && float.IsFinite(gA), $"A gets no gradient at A = 0: {gA}");
        Assert.Equal(0f, gDt);

        using (torch.no_grad()) a.fill_(-0.5f);
        model.zero_grad();
        using (var loss = model.Loss(ids, tgt)) loss.backward();
        Assert.True(dt.grad!.abs().max().item<float>() > 1e-7, "dt_proj gets no gradient once A is non-zero");
    }
}
