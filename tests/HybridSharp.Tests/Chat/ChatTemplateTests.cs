using Xunit;
using HybridSharp.Inference;

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

    [Fact]
    public void ChatMlRendersTurnsAndGenerationPrompt()
    {
        var text = ChatTemplate.ChatMl.Render(Conversation, addGenerationPrompt: true);
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n" +
            "<|im_start|>user\nand 3+3?<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void OnlyAssistantContentAndEndMarkerAreAssistantSegments()
    {
        var segments = ChatTemplate.ChatMl.Segments([.. Conversation, ChatMessage.FromAssistant("6")], addGenerationPrompt: false);
        var assistant = segments.Where(s => s.IsAssistant).Select(s => s.Text).ToArray();
        Assert.Equal(["4<|im_end|>", "6<|im_end|>"], assistant);
        Assert.DoesNotContain(segments, s => s.IsAssistant && s.Text.Contains("<|im_start|>"));
        Assert.Equal(ChatTemplate.ChatMl.Render([.. Conversation, ChatMessage.FromAssistant("6")], false), string.Concat(segments.Select(s => s.Text)));
    }

    [Fact]
    public void ResolvesNamesAndJinjaMarkersAndRejectsUnknownNames()
    {
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.Resolve(null));
        Assert.Same(ChatTemplate.Llama3, ChatTemplate.Resolve("LLAMA3"));
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.Resolve("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"));
        Assert.Same(ChatTemplate.Llama3, ChatTemplate.Resolve("{{ '<|start_header_id|>' + m['role'] }}"));
        var fallback = ChatTemplate.Resolve("{% for m in messages %}[{{ m.role }}]{% endfor %}");
        Assert.Equal("chatml", fallback.Name);
        Assert.NotNull(fallback.Note);
        Assert.Throws<ArgumentException>(() => ChatTemplate.Resolve("vicuna"));
        Assert.Throws<ArgumentException>(() => ChatTemplate.ChatMl.Render([new ChatMessage("tool", "x")], false));
        Assert.Throws<ArgumentException>(() => ChatTemplate.ChatMl.Render([], true));
    }

    [Fact]
    public void ModelDirectoryTemplateIsReadFromTokenizerConfig()
    {
        using var dir = new TempDir();
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.ForModelDirectory(dir.Path));
        File.WriteAllText(Path.Combine(dir.Path, "tokenizer_config.json"),
            """{"chat_template":[{"name":"tool_use","template":"x"},{"name":"default","template":"{{'<|start_header_id|>'}}"}]}""");
        Assert.Same(ChatTemplate.Llama3, ChatTemplate.ForModelDirectory(dir.Path));
    }
}
