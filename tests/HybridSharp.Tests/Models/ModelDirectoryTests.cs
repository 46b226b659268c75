using HybridSharp.Data;
using HybridSharp.IO.Safetensors;
using HybridSharp.Models;
using Xunit;
using static TorchSharp.torch;
using HybridSharp.Checkpoints;

namespace HybridSharp.Tests.Models;

[Collection("Torch")]
public sealed class ModelDirectoryTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SaveThenLoadGivesIdenticalWeightsAndLogits(bool tie)
    {
        using var tmp = new TempDir();
        var cfg = TinyModels.Transformer(tie: tie, residualVectors: true);
        cfg.VocabSize = 261;
        using var model = new CausalLM(cfg, seed: 21);
        ModelDirectory.Save(model, new ByteTokenizer(), tmp.Path);
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(tmp[f]), f);
        var stored = SafetensorsFile.ReadHeader(tmp["model.safetensors"]);
        Assert.Equal(!tie, stored.Contains("lm_head.weight"));

        var (loaded, tok) = ModelDirectory.Load(tmp.Path);
        using var _ = loaded;
        Assert.IsType<ByteTokenizer>(tok);
        Assert.Equal(cfg.ToJson(), loaded.Config.ToJson());
        var a = model.state_dict();
        var b = loaded.state_dict();
        foreach (var (name, t) in a) Assert.True(t.Equals(b[name]), name);
        using var ids = tensor(new long[] { 1, 2, 3, 4 }).reshape(1, 4);
        using var la = model.Forward(ids);
        using var lb = loaded.Forward(ids);
        Assert.True(la.Equals(lb));
    }

    [Fact]
    public void MissingUntiedHeadAndMisshapedTensorsAreReportedTogether()
    {
        using var tmp = new TempDir();
        var cfg = TinyModels.Transformer(tie: true);
        cfg.VocabSize = 261;
        using (var model = new CausalLM(cfg)) ModelDirectory.Save(model, new ByteTokenizer(), tmp.Path);
        // the config now claims an untied head and a bigger FFN, which the weights do not have
        cfg.TieWordEmbeddings = false;
        cfg.IntermediateSize = 64;
        cfg.Save(tmp["config.json"]);
        var ex = Assert.Throws<CheckpointMismatchException>(() => ModelDirectory.Load(tmp.Path));
        Assert.Contains("lm_head.weight", ex.Message);
        Assert.Contains("mlp.gate_proj.weight", ex.Message);
    }

    [Fact]
    public void NonFiniteWeightsAreRefusedByNameUnlessAllowed()
    {
        using var tmp = new TempDir();
        var cfg = TinyModels.Transformer(tie: true);
        cfg.VocabSize = 261;
        using (var model = new CausalLM(cfg))
        {
            using (no_grad()) model.named_parameters().First(p => p.name == "model.layers.1.mlp.up_proj.weight").parameter[0, 3] = float.NaN;
            ModelDirectory.Save(model, new ByteTokenizer(), tmp.Path);
        }
        var ex = Assert.Throws<InvalidDataException>(() => ModelDirectory.Load(tmp.Path));
        Assert.Contains("model.layers.1.mlp.up_proj.weight holds 1 NaN or infinite value", ex.Message);
        Assert.Contains("`ModelDirectory.AllowNonFiniteWeights`", ex.Message);
        try
        {
            ModelDirectory.AllowNonFiniteWeights = true;
            var (loaded, _) = ModelDirectory.Load(tmp.Path);
            using (loaded) Assert.True(float.IsNaN(loaded.named_parameters().First(p => p.name == "model.layers.1.mlp.up_proj.weight").parameter[0, 3].item<float>()));
        }
        finally
        {
            ModelDirectory.AllowNonFiniteWeights = false;
        }
    }

    [Fact]
    public void AnUnknownTokenizerKindIsAnError()
    {
        using var tmp = new TempDir();
        var cfg = TinyModels.Transformer(tie: true);
        cfg.VocabSize = 261;
        using (var model = new CausalLM(cfg)) ModelDirectory.Save(model, new ByteTokenizer(), tmp.Path);
        cfg.TokenizerKind = "sentencepiece";
        cfg.Save(tmp["config.json"]);
        var ex = Assert.Throws<HybridSharp.Config.ConfigException>(() => ModelDirectory.Load(tmp.Path));
        Assert.Contains("tokenizer_kind 'sentencepiece' is not known", ex.Message);
    }
}
