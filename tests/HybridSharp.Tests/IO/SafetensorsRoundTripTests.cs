using System.Buffers.Binary;
using System.Text;
using HybridSharp.IO.Safetensors;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.IO;

[Collection("Torch")]
public sealed class SafetensorsRoundTripTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<ScalarType, string> AllDTypes => new()
    {
        { ScalarType.Float64, "F64" },
        { ScalarType.Float32, "F32" },
        { ScalarType.Float16, "F16" },
        { ScalarType.BFloat16, "BF16" },
        { ScalarType.Int64, "I64" },
        { ScalarType.Int32, "I32" },
        { ScalarType.Int16, "I16" },
        { ScalarType.Int8, "I8" },
        { ScalarType.Byte, "U8" },
        { ScalarType.Bool, "BOOL" },
    };

    [Theory]
    [MemberData(nameof(AllDTypes))]
    public void RoundTrip_IsBitIdentical(ScalarType dtype, string expectedName)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        var original = MakeTensor(dtype, 3, 5);
        string path = _dir.File("t.safetensors");

        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["w"] = original });

        Assert.Equal(expectedName, SafetensorsFile.ReadHeader(path)["w"].DType);
        var loaded = SafetensorsFile.Load(path)["w"];
        Assert.Equal(dtype, loaded.dtype);
        Assert.Equal(DeviceType.CPU, loaded.device_type);
        Assert.Equal(original.shape, loaded.shape);
        Assert.Equal(original.bytes.ToArray(), loaded.bytes.ToArray());
    }

    [Fact]
    public void RoundTrip_Bf16_PreservesEveryBitPattern()
    {
        using var scope = torch.NewDisposeScope();
        // Every 16-bit pattern, NaN payloads and negative zero included, reinterpreted as bf16.
        var patterns = torch.arange(-32768, 32768, dtype: ScalarType.Int16);
        var bf16 = torch.empty(patterns.shape, dtype: ScalarType.BFloat16);
        bf16.bytes = patterns.bytes;
        string path = _dir.File("bf16.safetensors");

        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["all"] = bf16 });

        var loaded = SafetensorsFile.Load(path)["all"];
        Assert.Equal(ScalarType.BFloat16, loaded.dtype);
        Assert.Equal(patterns.bytes.ToArray(), loaded.bytes.ToArray());
    }

    [Fact]
    public void RoundTrip_ZeroDimAndZeroSizeTensors()
    {
        using var scope = torch.NewDisposeScope();
        string path = _dir.File("edge.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["scalar"] = torch.tensor(3.5f),
            ["empty"] = torch.zeros(0, 4, dtype: ScalarType.Int64),
            ["empty1d"] = torch.zeros(0, dtype: ScalarType.Float32),
            ["vector"] = torch.arange(6, dtype: ScalarType.Float32),
        };

        SafetensorsFile.Save(path, tensors);

        var header = SafetensorsFile.ReadHeader(path);
        Assert.Empty(header["scalar"].Shape);
        Assert.Equal([0L, 4L], header["empty"].Shape);
        Assert.Equal(0, header["empty"].ByteLength);
        var loaded = SafetensorsFile.Load(path);
        Assert.Equal(0, loaded["scalar"].ndim);
        Assert.Equal(3.5f, loaded["scalar"].item<float>());
        Assert.Equal([0L, 4L], loaded["empty"].shape);
        Assert.Equal(ScalarType.Int64, loaded["empty"].dtype);
        Assert.Equal([0L], loaded["empty1d"].shape);
        Assert.True(loaded["vector"].Equals(tensors["vector"]));
    }

    [Fact]
    public void Save_PreservesMetadata_AndAddsFormatPt()
    {
        using var scope = torch.NewDisposeScope();
        string path = _dir.File("meta.safetensors");
        var metadata = new Dictionary<string, string> { ["step"] = "1200", ["note"] = "héllo \"quoted\"" };

        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["x"] = torch.ones(2) }, metadata);

        var tensors = SafetensorsFile.Load(path, out var loadedMetadata);
        Assert.Single(tensors);
        Assert.Equal("pt", loadedMetadata["format"]);
        Assert.Equal("1200", loadedMetadata["step"]);
        Assert.Equal("héllo \"quoted\"", loadedMetadata["note"]);
        Assert.Equal(3, loadedMetadata.Count);
    }

    [Fact]
    public void Save_PadsHeaderToMultipleOf8_AndOrdersByDtypeSizeThenName()
    {
        using var scope = torch.NewDisposeScope();
        string path = _dir.File("order.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["b_f16"] = torch.ones(3, dtype: ScalarType.Float16),
            ["a_u8"] = torch.ones(5, dtype: ScalarType.Byte),
            ["z_f64"] = torch.ones(1, dtype: ScalarType.Float64),
            ["a_f16"] = torch.ones(1, dtype: ScalarType.Float16),
            ["c_f32"] = torch.ones(2, dtype: ScalarType.Float32),
            ["a_i64"] = torch.ones(1, dtype: ScalarType.Int64),
        };

        SafetensorsFile.Save(path, tensors);

        byte[] file = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0UL, n % 8);
        string headerText = Encoding.UTF8.GetString(file, 8, (int)n);
        Assert.StartsWith("{", headerText);
        Assert.EndsWith("}", headerText.TrimEnd(' '));
        var header = SafetensorsFile.ReadHeader(path);
        Assert.Equal(["a_i64", "z_f64", "c_f32", "a_f16", "b_f16", "a_u8"], header.Names.ToArray());
        Assert.Equal(file.Length, header.DataStart + header.Tensors[^1].DataEnd);
    }

    [Fact]
    public void Save_WritesNonContiguousTensorsInLogicalOrder()
    {
        using var scope = torch.NewDisposeScope();
        string path = _dir.File("t.safetensors");
        var matrix = torch.arange(12, dtype: ScalarType.Float32).reshape(3, 4);
        var transposed = matrix.t();
        Assert.False(transposed.is_contiguous());

        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["t"] = transposed });

        var loaded = SafetensorsFile.Load(path)["t"];
        Assert.Equal([4L, 3L], loaded.shape);
        Assert.True(loaded.Equals(transposed));
    }

    [Fact]
    public void Save_OverwritesALongerFileCompletely()
    {
        using var scope = torch.NewDisposeScope();
        string path = _dir.File("over.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["big"] = torch.ones(1000) });

        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["small"] = torch.ones(2) });

        var loaded = SafetensorsFile.Load(path);
        Assert.Equal(["small"], loaded.Keys.ToArray());
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));
    }

    [Fact]
    public void Save_RejectsReservedNameAndUnsupportedDtype()
    {
        using var scope = torch.NewDisposeScope();
        string path = _dir.File("bad.safetensors");

        Assert.Throws<ArgumentException>(() =>
            SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["__metadata__"] = torch.ones(1) }));
        Assert.Throws<ArgumentException>(() =>
            SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["c"] = torch.ones(2, dtype: ScalarType.ComplexFloat32) }));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Load_WithPredicate_AndSubset_LoadOnlyRequestedTensors()
    {
        using var scope = torch.NewDisposeScope();
        string path = _dir.File("subset.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor>
        {
            ["a"] = torch.full(2, 1.0f),
            ["b"] = torch.full(3, 2.0f),
            ["c"] = torch.full(4, 3.0f),
        });

        var byPredicate = SafetensorsFile.Load(path, name => name != "b");
        Assert.Equal(["a", "c"], byPredicate.Keys.Order().ToArray());
        Assert.Equal(3.0f, byPredicate["c"][0].item<float>());

        var subset = SafetensorsFile.LoadSubset(path, ["b"]);
        Assert.Equal(["b"], subset.Keys.ToArray());
        Assert.Equal([3L], subset["b"].shape);

        var ex = Assert.Throws<KeyNotFoundException>(() => SafetensorsFile.LoadSubset(path, ["a", "nope"]));
        Assert.Contains("'nope'", ex.Message);
    }

    [Fact]
    public void Load_KnownButUnsupportedDtype_ReadsHeaderButRefusesThatTensor()
    {
        using var scope = torch.NewDisposeScope();
        string path = SafetensorsTestFiles.Write(_dir.File("u16.safetensors"),
            SafetensorsTestFiles.Header(
                SafetensorsTestFiles.Entry("u", "U16", "[2]", 0, 4),
                SafetensorsTestFiles.Entry("f", "F32", "[1]", 4, 8)),
            SafetensorsTestFiles.Bytes(8));

        var header = SafetensorsFile.ReadHeader(path);
        Assert.Null(header["u"].ScalarType);

        var ex = Assert.Throws<NotSupportedException>(() => SafetensorsFile.Load(path));
        Assert.Contains("U16", ex.Message);
        var onlyF32 = SafetensorsFile.Load(path, name => name == "f");
        Assert.Equal([4, 5, 6, 7], onlyF32["f"].bytes.ToArray());
    }

    [Fact]
    public void Load_ReadsHandWrittenFile_LittleEndian()
    {
        using var scope = torch.NewDisposeScope();
        byte[] data = new byte[12];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -2f);
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(8), 123456);
        // Unpadded header, unknown extra field, and entries out of offset order: all legal.
        string path = SafetensorsTestFiles.Write(_dir.File("hand.safetensors"),
            "{\"i\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]},"
            + "\"f\":{\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[0,8],\"extra\":1}}",
            data);

        var loaded = SafetensorsFile.Load(path);
        Assert.Equal(new[] { 1.5f, -2f }, loaded["f"].data<float>().ToArray());
        Assert.Equal(123456, loaded["i"].item<int>());
        Assert.Empty(SafetensorsFile.ReadHeader(path).Metadata);
    }

    private static Tensor MakeTensor(ScalarType dtype, params long[] shape) => dtype switch
    {
        ScalarType.Bool => torch.rand(shape) > 0.5,
        ScalarType.Byte => torch.randint(0, 256, shape, dtype: ScalarType.Byte),
        ScalarType.Int8 => torch.randint(-128, 128, shape, dtype: ScalarType.Int8),
        ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 => torch.randint(-30000, 30000, shape, dtype: dtype),
        _ => torch.randn(shape, dtype: ScalarType.Float64).to(dtype),
    };
}
