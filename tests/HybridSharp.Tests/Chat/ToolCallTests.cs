using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Grammar;
using HybridSharp.Tests.Reference;
using Json.Schema;
using Xunit;

namespace HybridSharp.Tests.Chat;

/// <summary>
/// Tool calls in the formats of real chat templates: the format is read from the template, replies are parsed into
/// calls (whole and streamed at every cut), and calls forced by the grammar — random walks over each model's own
/// vocabulary — always parse into one call whose arguments validate against the tool's schema (JsonSchema.Net).
/// </summary>
public sealed class ToolCallTests
{
    private const string Parameters = """{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"unit":{"enum":["c","f"]}},"required":["city","days","unit"],"additionalProperties":false}""";

    private static JsonArray Tools() => new(
        new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "weather", ["parameters"] = JsonNode.Parse(Parameters) } },
        new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "time" } });

    public static TheoryData<string, ToolCallStyle> Templates => new()
    {
        { "qwen3", ToolCallStyle.Hermes },
        { "llama3_1", ToolCallStyle.Llama3Json },
        { "deepseek_v3", ToolCallStyle.DeepSeek },
    };

    [Theory]
    [InlineData(ToolCallStyle.Hermes, "Let me look.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 2, \"unit\": \"c\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"time\", \"arguments\": {}}\n</tool_call>", "Let me look.\n", 2)]
    [InlineData(ToolCallStyle.Llama3Json, "{\"name\": \"weather\", \"parameters\": {\"city\": \"Oslo\", \"days\": 2, \"unit\": \"c\"}}", "", 1)]
    [InlineData(ToolCallStyle.Mistral, "[TOOL_CALLS][{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 2, \"unit\": \"c\"}}]", "", 1)]
    [InlineData(ToolCallStyle.DeepSeek, "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>weather\n```json\n{\"city\": \"Oslo\", \"days\": 2, \"unit\": \"c\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "", 1)]
    [InlineData(ToolCallStyle.Hermes, "No tools needed: 4.", "No tools needed: 4.", 0)]
    [InlineData(ToolCallStyle.Hermes, "<tool_call>\n{not json\n</tool_call>", "<tool_call>\n{not json\n</tool_call>", 0)]
    [InlineData(ToolCallStyle.Llama3Json, "Oslo is cold.", "Oslo is cold.", 0)]
    public void RepliesParseTheSameWholeAndAtEveryCut(ToolCallStyle style, string reply, string content, int calls)
    {
        var format = FormatOf(style);
        var (whole, parsed) = ToolCallParser.ParseReply(format, reply);
        Assert.Equal(content, whole);
        Assert.Equal(calls, parsed.Count);
        if (calls > 0)
        {
            Assert.Equal("weather", parsed[0].Name);
            Assert.Equal(new JsonObject { ["city"] = "Oslo", ["days"] = 2, ["unit"] = "c" }.ToJsonString(), JsonNode.Parse(parsed[0].Arguments)!.ToJsonString());
            Assert.StartsWith("call_", parsed[0].Id);
        }
        for (int cut = 0; cut <= reply.Length; cut++)
        {
            var parser = format.NewParser();
            var shown = parser.Push(reply[..cut]) + parser.Push(reply[cut..]);
            var (rest, streamed) = parser.Finish();
            Assert.Equal(content, shown + rest);
            Assert.Equal(parsed.Select(c => (c.Name, c.Arguments)), streamed.Select(c => (c.Name, c.Arguments)));
        }
    }

    [Theory]
    [MemberData(nameof(Templates))]
    public void ForcedCallsInEachModelsFormatParseAndValidate(string model, ToolCallStyle style)
    {
        var tokenizer = TokenizerFactory.Load(NodeReference.TokenizerDir(model));
        var format = ToolCallFormat.For(ChatTemplate.For(tokenizer));
        Assert.Equal(style, format.Style);
        var schema = JsonSchema.FromText(Parameters);
        var rng = new Random(3);
        var bias = new float[tokenizer.VocabSize];
        for (int id = 0; id < bias.Length; id++)
            if (!tokenizer.IsSpecial(id) && tokenizer.TokenBytes(id) is { Length: > 0 } b && b.Contains((byte)'"')) bias[id] = 6;
        foreach (var (function, seed) in new[] { ((string?)null, 1), ("weather", 2), (null, 3), ("time", 4) })
        {
            var chooser = new ConstrainedChooser(tokenizer, format.Grammar(Tools(), function), new HashSet<int> { tokenizer.EosId }, seed);
            var bytes = new List<byte>();
            for (int step = 0; step < 400 && !chooser.State.IsComplete; step++)
            {
                var logits = new float[tokenizer.VocabSize];
                for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 4) + bias[i];
                int id = chooser.Choose(logits, logits, greedy: false);
                chooser.Accept(id);
                bytes.AddRange(tokenizer.TokenBytes(id));
            }
            var text = Encoding.UTF8.GetString(bytes.ToArray());
            Assert.True(chooser.State.IsComplete, text);
            var (_, calls) = ToolCallParser.ParseReply(format, text);
            var call = Assert.Single(calls);
            if (function is not null) Assert.Equal(function, call.Name);
            if (call.Name == "weather") Assert.True(schema.Evaluate(JsonNode.Parse(call.Arguments)).IsValid, call.Arguments);
            else Assert.Equal("{}", call.Arguments);
        }
        Assert.Contains("not in tools", Assert.Throws<ArgumentException>(() => format.Grammar(Tools(), "nope")).Message);
    }

    private static ToolCallFormat FormatOf(ToolCallStyle style)
    {
        using var dir = new TempDir();
        var marker = style switch
        {
            ToolCallStyle.Llama3Json => "<|start_header_id|>",
            ToolCallStyle.Mistral => "[TOOL_CALLS]",
            ToolCallStyle.DeepSeek => "<｜tool▁call▁begin｜>",
            _ => "<tool_call>",
        };
        File.WriteAllText(dir["t.jinja"], marker + "{% for m in messages %}{{ m.content }}{% endfor %}");
        return ToolCallFormat.For(ChatTemplate.For(new ByteTokenizer(), templateFile: dir["t.jinja"]));
    }
}
