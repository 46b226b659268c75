using System.Text.Json.Nodes;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Chat;
using HybridSharp.Data;
using Xunit;

namespace HybridSharp.Tests.Chat;

public sealed class ChatTemplateTests
{
    private static readonly ChatMessage[] Conversation =
    [
        ChatMessage.FromSystem("Be brief."),
        ChatMessage.FromUser("2+2?"),
        ChatMessage.FromAssistant("4"),
        ChatMessage.FromUser("and 3+3?"),
    ];

    private static ChatTemplate ChatMl => ChatTemplate.For(new ByteTokenizer());

    [Fact]
    public void ByteTokenizerChatMlOpensWithBosAndStopsAtImEnd()
    {
        var template = ChatMl;
        Assert.Equal(
            "<|bos|><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n" +
            "<|im_start|>user\nand 3+3?<|im_end|>\n<|im_start|>assistant\n", template.Render(Conversation, addGenerationPrompt: true));
        Assert.Equal("<|im_end|>", template.EndOfTurn);
        Assert.Equal(["<|im_end|>", "<|eos|>"], template.StopStrings);
        Assert.Equal("ChatML (built in)", template.Source);
    }

    [Fact]
    public void AssistantSegmentsAreTheRepliesAndTheirEndMarker()
    {
        var segments = ChatMl.Segments([.. Conversation, ChatMessage.FromAssistant("6")]);
        Assert.Equal(["4<|im_end|>", "6<|im_end|>"], segments.Where(s => s.IsAssistant).Select(s => s.Text));
        Assert.Equal(ChatMl.Render([.. Conversation, ChatMessage.FromAssistant("6")], false), string.Concat(segments.Select(s => s.Text)));
    }

    [Fact]
    public void WithoutAnEndMarkerTheTurnEndsWhereItsPrefixRenderEnds()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "t.jinja"),
            "{% for m in messages %}{{ m.role | capitalize }}: {{ m.content }}\n\n{% endfor %}{% if add_generation_prompt %}Assistant: {% endif %}");
        var template = ChatTemplate.For(new ByteTokenizer(), templateFile: Path.Combine(dir.Path, "t.jinja"));
        Assert.Null(template.EndOfTurn);
        Assert.Equal(["<|eos|>"], template.StopStrings);
        var segments = template.Segments([ChatMessage.FromUser("hi"), ChatMessage.FromAssistant("hello"), ChatMessage.FromUser("bye"), ChatMessage.FromAssistant("ciao")]);
        Assert.Equal(["hello\n\n", "ciao\n\n"], segments.Where(s => s.IsAssistant).Select(s => s.Text));
    }

    [Fact]
    public void GenerationBlocksDecideTheAssistantText()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "t.jinja"),
            "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}{% generation %}{{ m.content | upper }}<|im_end|>{% endgeneration %}" +
            "{% else %}{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}");
        var template = ChatTemplate.For(new ByteTokenizer(), templateFile: Path.Combine(dir.Path, "t.jinja"));
        var segments = template.Segments([ChatMessage.FromUser("hi"), ChatMessage.FromAssistant("hello")]);
        Assert.Equal(["HELLO<|im_end|>"], segments.Where(s => s.IsAssistant).Select(s => s.Text));
    }

    [Fact]
    public void TemplateBesideTheModelAndTemplateFilesAreFound()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, ChatTemplate.TemplateFileName), "{% for m in messages %}[{{ m.role }}]{{ m.content }}<|im_end|>{% endfor %}");
        var beside = ChatTemplate.For(new ByteTokenizer(), dir.Path);
        Assert.Equal("[user]x<|im_end|>", beside.Render([ChatMessage.FromUser("x")], false));
        Assert.Throws<FileNotFoundException>(() => ChatTemplate.For(new ByteTokenizer(), templateFile: Path.Combine(dir.Path, "missing.jinja")));
        File.WriteAllText(Path.Combine(dir.Path, "bad.jinja"), "{% for m in messages %}");
        Assert.Contains("bad.jinja", Assert.Throws<ArgumentException>(() => ChatTemplate.For(new ByteTokenizer(), templateFile: Path.Combine(dir.Path, "bad.jinja"))).Message);
    }

    [Fact]
    public void TokenizerWithoutTemplateOrChatMlTokensNeedsATemplateFile()
    {
        var tiktoken = TokenizerFactory.Create("tiktoken:cl100k_base");
        var error = Assert.Throws<ArgumentException>(() => ChatTemplate.For(tiktoken));
        Assert.Contains("`templatePath`", error.Message);
    }

    [Fact]
    public void MessagesReachTheTemplateInOpenAiShapeWithParsedToolArguments()
    {
        var call = new ChatMessage(ChatMessage.Assistant, null)
        {
            ReasoningContent = "think",
            ToolCalls = [new JsonObject { ["id"] = "c1", ["type"] = "function", ["function"] = new JsonObject { ["name"] = "add", ["arguments"] = """{"a": 1}""" } }],
        };
        var json = call.ToJson();
        Assert.Null(json["content"]);
        Assert.Equal("think", (string?)json["reasoning_content"]);
        Assert.Equal(1, (int)json["tool_calls"]![0]!["function"]!["arguments"]!["a"]!);
        // The caller's array is not changed.
        Assert.IsType<string>(call.ToolCalls![0]!["function"]!["arguments"]!.GetValue<string>());
        var tool = ChatMessage.FromTool("2", "c1").ToJson();
        Assert.Equal("tool", (string?)tool["role"]);
        Assert.Equal("c1", (string?)tool["tool_call_id"]);
    }
}
