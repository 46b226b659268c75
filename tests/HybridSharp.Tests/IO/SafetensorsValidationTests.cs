using HybridSharp.IO.Safetensors;
using Xunit;
using static HybridSharp.Tests.IO.SafetensorsTestFiles;

namespace HybridSharp.Tests.IO;

/// <summary>Every reader rejection rule, each on a hand-built file.</summary>
[Collection("Torch")]
public sealed class SafetensorsValidationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string PathFor(string name) => _dir.File(name + ".safetensors");

    /// <summary>Both ReadHeader and Load must reject with a one-line message naming the file and the problem.</summary>
    private static void AssertRejected(string path, string expectedProblem)
    {
        var fromHeader = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.ReadHeader(path));
        var fromLoad = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Load(path));
        foreach (var ex in new[] { fromHeader, fromLoad })
        {
            Assert.Contains(path, ex.Message);
            Assert.Contains(expectedProblem, ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
            Assert.Equal(path, ex.FilePath);
        }
    }

    [Fact]
    public void Rejects_FileShorterThan8Bytes()
    {
        string path = PathFor("short");
        File.WriteAllBytes(path, [1, 0, 0, 0, 0]);
        AssertRejected(path, "shorter than the 8-byte header-length prefix");
    }

    [Fact]
    public void Rejects_TruncatedHeader()
    {
        string header = Header(Entry("a", "F32", "[2]", 0, 8));
        string path = Write(PathFor("trunc"), header, declaredHeaderLength: (ulong)header.Length + 100);
        AssertRejected(path, "runs past the end of the file");
    }

    [Fact]
    public void Rejects_HeaderLengthPastEndOfFile()
    {
        string path = Write(PathFor("past"), "{}", declaredHeaderLength: 4096);
        AssertRejected(path, "header length 4096 runs past the end of the file");
    }

    [Fact]
    public void Rejects_TruncatedData()
    {
        string path = Write(PathFor("truncdata"), Header(Entry("a", "F32", "[4]", 0, 16)), Bytes(10));
        AssertRejected(path, "past the 10-byte data section");
    }

    [Fact]
    public void Rejects_OversizedHeaderLength()
    {
        string path = Write(PathFor("huge"), "{}", declaredHeaderLength: 100_000_001);
        AssertRejected(path, "exceeds the limit of 100000000 bytes");
    }

    [Fact]
    public void Rejects_HeaderLengthWithTopBitSet()
    {
        string path = Write(PathFor("topbit"), "{}", declaredHeaderLength: ulong.MaxValue);
        AssertRejected(path, "exceeds the limit");
    }

    [Theory]
    [InlineData("[]")]
    [InlineData(" {}")]
    [InlineData("\"text\"")]
    public void Rejects_HeaderNotStartingWithObject(string header)
    {
        string path = Write(PathFor("notobject"), header);
        AssertRejected(path, "does not start with '{'");
    }

    [Theory]
    [InlineData("{")]
    [InlineData("{\"a\":1,}")]
    [InlineData("{} []")]
    public void Rejects_InvalidJson(string header)
    {
        string path = Write(PathFor("badjson"), header);
        AssertRejected(path, "header is not valid JSON");
    }

    [Fact]
    public void Rejects_InvalidUtf8InHeader()
    {
        string path = PathFor("utf8");
        byte[] header = [(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'];
        byte[] file = new byte[8 + header.Length];
        file[0] = (byte)header.Length;
        header.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        AssertRejected(path, "header is not valid UTF-8");
    }

    [Fact]
    public void Rejects_DuplicateKeys()
    {
        string entry = Entry("a", "F32", "[1]", 0, 4);
        string path = Write(PathFor("dup"), Header(entry, entry), Bytes(4));
        AssertRejected(path, "duplicate key 'a'");
    }

    [Fact]
    public void Rejects_DuplicateFieldInsideEntry()
    {
        string path = Write(PathFor("dupfield"),
            "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", Bytes(4));
        AssertRejected(path, "duplicate key 'dtype'");
    }

    [Theory]
    [InlineData("{\"__metadata__\":{\"n\":1}}", "expected a string")]
    [InlineData("{\"__metadata__\":[\"x\"]}", "expected an object of strings")]
    [InlineData("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", "duplicate key 'k'")]
    public void Rejects_MetadataNotStringMap(string header, string problem)
    {
        string path = Write(PathFor("meta"), header);
        AssertRejected(path, problem);
    }

    [Theory]
    [InlineData("F33")]
    [InlineData("f32")]
    [InlineData("FLOAT")]
    public void Rejects_UnknownDtype(string dtype)
    {
        string path = Write(PathFor("dtype"), Header(Entry("a", dtype, "[1]", 0, 4)), Bytes(4));
        AssertRejected(path, $"unknown dtype '{dtype}'");
    }

    [Theory]
    [InlineData("F4")]
    [InlineData("F6_E2M3")]
    [InlineData("F6_E3M2")]
    public void Rejects_SubByteDtypes(string dtype)
    {
        string path = Write(PathFor("subbyte"), Header(Entry("a", dtype, "[2]", 0, 1)), Bytes(1));
        AssertRejected(path, $"sub-byte dtype '{dtype}'");
    }

    [Theory]
    [InlineData("[-1]")]
    [InlineData("[2.0]")]
    [InlineData("[1e1]")]
    [InlineData("[\"2\"]")]
    [InlineData("[null]")]
    public void Rejects_ShapeNotNonNegativeIntegers(string shape)
    {
        string path = Write(PathFor("shape"), Header(Entry("a", "U8", shape, 0, 2)), Bytes(2));
        AssertRejected(path, "expected non-negative integers");
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "no 'shape' array")]
    [InlineData("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "no string 'dtype'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", "needs 'data_offsets'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "needs 'data_offsets'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "END before BEGIN")]
    [InlineData("{\"a\":[1,2]}", "expected an object")]
    public void Rejects_MalformedEntries(string header, string problem)
    {
        string path = Write(PathFor("entry"), header, Bytes(4));
        AssertRejected(path, problem);
    }

    [Fact]
    public void Rejects_ShapeOffsetMismatch()
    {
        string path = Write(PathFor("mismatch"), Header(Entry("w", "F32", "[2,2]", 0, 12)), Bytes(12));
        AssertRejected(path, "tensor 'w' (F32 [2, 2]) needs 16 bytes but data_offsets [0, 12] span 12");
    }

    [Fact]
    public void Rejects_ShapeWhoseByteSizeOverflows()
    {
        string path = Write(PathFor("overflow"),
            Header(Entry("w", "F64", "[4294967296,4294967296]", 0, 8)), Bytes(8));
        AssertRejected(path, "overflows");
    }

    [Fact]
    public void Rejects_FirstTensorNotAtZero()
    {
        string path = Write(PathFor("first"), Header(Entry("a", "F32", "[1]", 4, 8)), Bytes(8));
        AssertRejected(path, "first tensor 'a' begins at data offset 4, expected 0");
    }

    [Fact]
    public void Rejects_GapBetweenTensors()
    {
        string path = Write(PathFor("gap"),
            Header(Entry("a", "F32", "[2]", 0, 8), Entry("b", "F32", "[2]", 12, 20)), Bytes(20));
        AssertRejected(path, "gap of 4 bytes between tensor 'a' (ends at 8) and tensor 'b' (begins at 12)");
    }

    [Fact]
    public void Rejects_OverlappingTensors()
    {
        string path = Write(PathFor("overlap"),
            Header(Entry("a", "F32", "[2]", 0, 8), Entry("b", "F32", "[2]", 4, 12)), Bytes(12));
        AssertRejected(path, "tensor 'b' (begins at 4) overlaps tensor 'a' (ends at 8)");
    }

    [Fact]
    public void Rejects_TwoTensorsSharingTheSameBytes()
    {
        string path = Write(PathFor("alias"),
            Header(Entry("a", "F32", "[2]", 0, 8), Entry("b", "F32", "[2]", 0, 8)), Bytes(8));
        AssertRejected(path, "overlaps");
    }

    [Fact]
    public void Rejects_TrailingBytesAfterLastTensor()
    {
        string path = Write(PathFor("trailing"), Header(Entry("a", "F32", "[2]", 0, 8)), Bytes(12));
        AssertRejected(path, "data section is 12 bytes but tensors end at 8 (4 trailing bytes)");
    }

    [Fact]
    public void Rejects_DataWithNoTensors()
    {
        string path = Write(PathFor("orphan"), "{}", Bytes(4));
        AssertRejected(path, "4 trailing bytes");
    }

    [Fact]
    public void Accepts_EmptyFile_SpacePadding_AndZeroSizeTensorsAtBoundaries()
    {
        string empty = Write(PathFor("empty"), "{}      ");
        Assert.Empty(SafetensorsFile.ReadHeader(empty).Tensors);
        Assert.Equal(8, SafetensorsFile.ReadHeader(empty).HeaderLength);

        string path = Write(PathFor("zeros"),
            Header(Entry("z0", "F32", "[0]", 0, 0), Entry("a", "U8", "[3]", 0, 3),
                   Entry("z1", "I64", "[2,0]", 3, 3), Entry("b", "U8", "[1]", 3, 4)),
            Bytes(4));
        var header = SafetensorsFile.ReadHeader(path);
        Assert.Equal(4, header.Tensors.Count);
        Assert.Equal(0, header["z1"].ElementCount);
    }
}
