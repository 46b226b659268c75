using HybridSharp.Chat;
using HybridSharp.Sft;
using Parquet.Serialization;
using Xunit;

namespace HybridSharp.Tests.Sft;

public class ChatDataReaderTests
{
    [Fact]
    public void ReadsTrlMessagesAndShareGptJsonl()
    {
        using var tmp = new TempDir();
        File.WriteAllLines(tmp["chat.jsonl"],
        [
            """{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"}]}""",
            "",
            """{"conversations":[{"from":"human","value":"Q2"},{"from":"gpt","value":"A2"}],"system":"S2"}""",
            """{"conversations":[{"from":"human","value":"Q3"},{"from":"gpt","value":12}]}""",
        ]);
        Assert.Throws<InvalidDataException>(() => ChatDataReader.Read(tmp["chat.jsonl"]));   // a numeric value, not coerced
        var convs = ChatDataReader.Read(tmp["chat.jsonl"], new HybridSharp.Data.RecordReadOptions { CoerceText = true });
        Assert.Equal(3, convs.Count);
        Assert.Equal([ChatMessage.FromSystem("S"), ChatMessage.FromUser("Q1"), ChatMessage.FromAssistant("A1")], convs[0].Messages);
        Assert.Equal([ChatMessage.FromSystem("S2"), ChatMessage.FromUser("Q2"), ChatMessage.FromAssistant("A2")], convs[1].Messages);
        Assert.Equal("12", convs[2].Messages[1].Content);
    }

    [Fact]
    public void ReportsBadRecordsWithTheirLine()
    {
        using var tmp = new TempDir();
        File.WriteAllLines(tmp["a.jsonl"], ["""{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}]}""", """{"text":"x"}"""]);
        var ex = Assert.Throws<InvalidDataException>(() => ChatDataReader.Read(tmp["a.jsonl"]));
        Assert.Contains("line 2", ex.Message);
        File.WriteAllLines(tmp["b.jsonl"], ["""{"messages":[{"role":"user","content":"Q"}]}"""]);
        Assert.Contains("no assistant turn", Assert.Throws<InvalidDataException>(() => ChatDataReader.Read(tmp["b.jsonl"])).Message);
        File.WriteAllLines(tmp["c.jsonl"], ["""{"messages":[{"role":"function","content":"Q"},{"role":"assistant","content":"A"}]}"""]);
        Assert.Contains("unsupported role \"function\"", Assert.Throws<InvalidDataException>(() => ChatDataReader.Read(tmp["c.jsonl"])).Message);
        File.WriteAllLines(tmp["e.jsonl"], ["""{"messages":[{"role":"user","content":"Q"},{"role":"assistant"}]}"""]);
        Assert.Contains("has no \"content\"", Assert.Throws<InvalidDataException>(() => ChatDataReader.Read(tmp["e.jsonl"])).Message);
        File.WriteAllLines(tmp["f.jsonl"], ["""{"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}],"tools":{}}"""]);
        Assert.Contains("\"tools\" must be a list", Assert.Throws<InvalidDataException>(() => ChatDataReader.Read(tmp["f.jsonl"])).Message);
        File.WriteAllText(tmp["d.txt"], "plain");
        Assert.Contains("unknown extension", Assert.Throws<ArgumentException>(() => ChatDataReader.Read(tmp["d.txt"])).Message);
    }

    [Fact]
    public void KeepsToolCallsToolResultsReasoningAndTools()
    {
        using var tmp = new TempDir();
        File.WriteAllLines(tmp["t.jsonl"], ["""
            {"tools":[{"type":"function","function":{"name":"add"}}],"messages":[{"role":"user","content":"2+3?"},
             {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"add","arguments":"{\"a\":2,\"b\":3}"}}]},
             {"role":"tool","tool_call_id":"c1","name":"add","content":"5"},
             {"role":"assistant","reasoning_content":"it said 5","content":"5"}]}
            """.ReplaceLineEndings("")]);
        var c = Assert.Single(ChatDataReader.Read(tmp["t.jsonl"]));
        Assert.Equal("add", (string?)c.Tools![0]!["function"]!["name"]);
        Assert.Null(c.Messages[1].Content);
        Assert.Equal("add", (string?)c.Messages[1].ToolCalls![0]!["function"]!["name"]);
        Assert.Equal((ChatMessage.Tool, "c1", "add"), (c.Messages[2].Role, c.Messages[2].ToolCallId, c.Messages[2].Name));
        Assert.Equal("it said 5", c.Messages[3].ReasoningContent);
    }

    public sealed class Turn
    {
        public string role { get; set; } = "";
        public string content { get; set; } = "";
    }

    public sealed class MessagesRow
    {
        public List<Turn> messages { get; set; } = [];
    }

    public sealed class ShareGptTurn
    {
        public string from { get; set; } = "";
        public string value { get; set; } = "";
    }

    public sealed class ShareGptRow
    {
        public List<ShareGptTurn> conversations { get; set; } = [];
        public string? system { get; set; }
    }

    [Fact]
    public async Task ReadsParquetInBothLayouts()
    {
        using var tmp = new TempDir();
        await ParquetSerializer.SerializeAsync(new[]
        {
            new MessagesRow { messages = [new() { role = "user", content = "Q1" }, new() { role = "assistant", content = "A1" }] },
            new MessagesRow { messages = [new() { role = "user", content = "Q2" }, new() { role = "assistant", content = "A2" }] },
        }, tmp["m.parquet"]);
        await ParquetSerializer.SerializeAsync(new[]
        {
            new ShareGptRow { conversations = [new() { from = "human", value = "Q3" }, new() { from = "gpt", value = "A3" }], system = "S3" },
        }, tmp["s.parquet"]);
        var m = ChatDataReader.Read(tmp["m.parquet"]);
        Assert.Equal(2, m.Count);
        Assert.Equal([ChatMessage.FromUser("Q2"), ChatMessage.FromAssistant("A2")], m[1].Messages);
        var s = ChatDataReader.Read(tmp["s.parquet"]);
        Assert.Equal([ChatMessage.FromSystem("S3"), ChatMessage.FromUser("Q3"), ChatMessage.FromAssistant("A3")], Assert.Single(s).Messages);
    }
}
