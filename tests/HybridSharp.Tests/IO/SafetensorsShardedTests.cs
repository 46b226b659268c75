using HybridSharp.IO.Safetensors;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.IO;

[Collection("Torch")]
public sealed class SafetensorsShardedTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private void WriteTwoShards(string? indexOverride = null)
    {
        using var scope = torch.NewDisposeScope();
        SafetensorsFile.Save(_dir.File("model-00001-of-00002.safetensors"), new Dictionary<string, Tensor>
        {
            ["model.embed_tokens.weight"] = torch.arange(12, dtype: ScalarType.Float32).reshape(4, 3),
            ["model.norm.weight"] = torch.ones(3, dtype: ScalarType.BFloat16),
        });
        SafetensorsFile.Save(_dir.File("model-00002-of-00002.safetensors"), new Dictionary<string, Tensor>
        {
            ["lm_head.weight"] = torch.full(4, 3, 7.0f),
        });
        File.WriteAllText(_dir.File(SafetensorsFile.IndexFileName), indexOverride ?? """
            {
              "metadata": { "total_size": 108 },
              "weight_map": {
                "lm_head.weight": "model-00002-of-00002.safetensors",
                "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                "model.norm.weight": "model-00001-of-00002.safetensors"
              }
            }
            """);
    }

    [Fact]
    public void LoadSharded_LoadsEveryTensorFromItsShard()
    {
        WriteTwoShards();
        using var scope = torch.NewDisposeScope();

        var tensors = SafetensorsFile.LoadSharded(_dir.Path);

        Assert.Equal(["lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"], tensors.Keys.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(ScalarType.BFloat16, tensors["model.norm.weight"].dtype);
        Assert.Equal(11f, tensors["model.embed_tokens.weight"][3, 2].item<float>());
        Assert.Equal(7f, tensors["lm_head.weight"][0, 0].item<float>());
    }

    [Fact]
    public void LoadDirectory_UsesIndexWhenNoSingleFile_AndSingleFileWhenPresent()
    {
        WriteTwoShards();
        using var scope = torch.NewDisposeScope();

        Assert.Equal(3, SafetensorsFile.LoadDirectory(_dir.Path).Count);
        Assert.Single(SafetensorsFile.LoadDirectory(_dir.Path, name => name.StartsWith("lm_head", StringComparison.Ordinal)));

        SafetensorsFile.Save(_dir.File(SafetensorsFile.SingleFileName), new Dictionary<string, Tensor> { ["only"] = torch.ones(1) });
        Assert.Equal(["only"], SafetensorsFile.LoadDirectory(_dir.Path).Keys.ToArray());
    }

    [Fact]
    public void LoadSharded_RejectsTensorMissingFromItsShard()
    {
        WriteTwoShards("""{"weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors"}}""");

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.LoadSharded(_dir.Path));
        Assert.Contains("'model.norm.weight'", ex.Message);
        Assert.Contains(SafetensorsFile.IndexFileName, ex.Message);
    }

    [Theory]
    [InlineData("""{"weight_map": {"a": "../outside.safetensors"}}""", "not a file inside")]
    [InlineData("""{"weight_map": {"a": 3}}""", "expected a file name")]
    [InlineData("""{"weight_map": {"a": "x", "a": "y"}}""", "duplicate key 'a'")]
    [InlineData("""{"metadata": {}}""", "no 'weight_map' object")]
    [InlineData("""[1]""", "expected an object")]
    [InlineData("""{"weight_map": """, "not valid JSON")]
    public void LoadSharded_RejectsMalformedIndex(string index, string problem)
    {
        WriteTwoShards(index);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.LoadSharded(_dir.Path));
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public void LoadSharded_AcceptsIndexWithUtf8Bom()
    {
        WriteTwoShards();
        string index = _dir.File(SafetensorsFile.IndexFileName);
        File.WriteAllBytes(index, [0xEF, 0xBB, 0xBF, .. File.ReadAllBytes(index)]);
        using var scope = torch.NewDisposeScope();

        Assert.Equal(3, SafetensorsFile.LoadSharded(_dir.Path).Count);
    }

    [Fact]
    public void LoadSharded_MissingShardFile_Throws()
    {
        WriteTwoShards("""{"weight_map": {"a": "model-00003-of-00003.safetensors"}}""");

        var ex = Assert.Throws<FileNotFoundException>(() => SafetensorsFile.LoadSharded(_dir.Path));
        Assert.Contains("model-00003-of-00003.safetensors", ex.Message);
    }

    [Fact]
    public void LoadSharded_ValidatesEachShard()
    {
        WriteTwoShards();
        string shard = _dir.File("model-00002-of-00002.safetensors");
        File.AppendAllText(shard, "junk");

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.LoadSharded(_dir.Path));
        Assert.Equal(shard, ex.FilePath);
        Assert.Contains("trailing bytes", ex.Message);
    }
}
