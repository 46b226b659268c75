using HybridSharp.Config;
using Xunit;

namespace HybridSharp.Tests.Config;

public sealed class ModelConfigTests
{
    [Fact]
    public void ConfigRoundTripsThroughJson()
    {
        var cfg = Presets.Get("transformer");
        cfg.RopeScaling = new RopeScaling { RopeType = "dynamic", Factor = 4, OriginalMaxPositionEmbeddings = 2048 };
        cfg.LayerTypes = Enumerable.Repeat("attention", cfg.NumHiddenLayers).ToList();
        var json = cfg.ToJson();
        var back = ModelConfig.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(4, back.RopeScaling!.Factor);
        Assert.Contains("\"layer_types\"", json);
        Assert.Contains("\"rope_theta\"", json);
        Assert.Contains("\"tie_word_embeddings\"", json);
    }

    [Fact]
    public void AcceptsHfStyleEosListAndIgnoresUnknownKeys()
    {
        var cfg = ModelConfig.FromJson("""{"model_type":"llama","vocab_size":300,"hidden_size":64,"num_attention_heads":4,"num_hidden_layers":2,"intermediate_size":128,"eos_token_id":[1,2],"some_future_key":{"x":1}}""");
        Assert.Equal([1, 2], cfg.EosTokenId!);
        Assert.Equal(16, cfg.HeadDim);
    }

    [Theory]
    [InlineData("""{"hidden_size":64,"num_attention_heads":5}""", "divisible")]
    [InlineData("""{"num_attention_heads":4,"num_key_value_heads":3,"hidden_size":64}""", "multiple")]
    [InlineData("""{"num_hidden_layers":2,"layer_types":["attention"]}""", "layer_types")]
    [InlineData("""{"num_hidden_layers":1,"layer_types":["lstm"]}""", "unknown mixer")]
    [InlineData("""{"rope_scaling":{"rope_type":"yarn","factor":2}}""", "rope_type")]
    [InlineData("""[1,2]""", "not valid config JSON")]
    [InlineData("""{"hidden_size":"128"}""", "hidden_size")]
    [InlineData("""{"tie_word_embeddings":"yes"}""", "tie_word_embeddings")]
    [InlineData("""{"torch_dtype":"float8"}""", "torch_dtype 'float8' is not known")]
    public void RejectsBadConfigsWithAClearMessage(string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ModelConfig.FromJson(json));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void DynamicNtkScalingOnlyAboveTheOriginalLength()
    {
        var rope = new HybridSharp.Modules.RotaryEmbedding(64, 10000, new RopeScaling { Factor = 4, OriginalMaxPositionEmbeddings = 128 });
        Assert.Equal(10000, rope.EffectiveTheta(127));
        double expected = 10000 * Math.Pow(4.0 * 256 / 128 - 3, 64.0 / 62.0);
        Assert.Equal(expected, rope.EffectiveTheta(255), 6);
    }
}
