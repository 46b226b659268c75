using HybridSharp.Data;
using HybridSharp.Tests.Cli;
using Xunit;

namespace HybridSharp.Tests.Data;

/// <summary>Invalid UTF-8 is an error naming its byte offset, never a silent U+FFFD; <c>hybrid data</c> can replace it on request.</summary>
public sealed class Utf8StrictTests
{
    private static void WriteWithInvalidByte(string path, string before, string after)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(before).Concat(new byte[] { 0xC3, 0x28 }).Concat(System.Text.Encoding.UTF8.GetBytes(after)).ToArray();
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void FirstInvalidByteGivesOffsetAndLine()
    {
        using var tmp = new TempDir();
        WriteWithInvalidByte(tmp["a.txt"], "héllo\nwörld ", "!\n");
        Assert.Equal((14L, 2L), Utf8Text.FirstInvalidByte(tmp["a.txt"]));   // "héllo\n" and "wörld " are 7 bytes each
        File.WriteAllText(tmp["ok.txt"], "fine ✓\n");
        Assert.Equal(-1, Utf8Text.FirstInvalidByte(tmp["ok.txt"]).Offset);
    }

    [Fact]
    public void RecordFilesRefuseInvalidUtf8()
    {
        using var tmp = new TempDir();
        WriteWithInvalidByte(tmp["p.jsonl"], "{\"problem\": \"one\", \"answer\": \"1\"}\n{\"problem\": \"", "\", \"answer\": \"2\"}\n");
        var ex = Assert.Throws<InvalidDataException>(() => TabularRecords.Read(tmp["p.jsonl"]).ToList());
        Assert.Contains("invalid UTF-8 at byte 47 (line 2)", ex.Message);
    }

    [Fact]
    public void DataCommandRefusesOrReplacesOnRequest()
    {
        using var tmp = new TempDir();
        WriteWithInvalidByte(tmp["c.txt"], "first document\n\nsecond ", " document\n");
        var (code, _, err) = HybridProcess.Run("data", tmp["ds"], tmp["c.txt"]);
        HybridProcess.AssertOneLineError(code, err, "invalid UTF-8 at byte 23 (line 3)");
        Assert.Contains("--replace-invalid-utf8", err);
        var (ok, _, okErr) = HybridProcess.Run("data", tmp["ds"], tmp["c.txt"], "--replace-invalid-utf8");
        Assert.True(ok == 0, okErr);
    }
}
