#pragma warning disable OPENAI001 // ChatCompletionOptions.Seed is marked experimental in the SDK
using System.ClientModel;
using System.Net;
using System.Text.Json.Nodes;
using Json.Schema;
using OpenAI;
using OpenAI.Chat;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// Tool calling through the official OpenAI .NET SDK on a hybrid model with random weights (ChatML, so Hermes-style
/// calls): "required" and a named function force a call whose arguments validate against the tool's schema, whole and
/// streamed; the call and its result go back into the conversation.
/// </summary>
[Collection("Torch")]
public sealed class ToolCallingTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private const string Parameters = """{"type":"object","properties":{"city":{"enum":["Oslo","Lima"]},"days":{"type":"integer"}},"required":["city","days"],"additionalProperties":false}""";

    private ChatClient Chat() => new(ServerFixture.ModelId, new ApiKeyCredential("dummy"),
        new OpenAIClientOptions { Endpoint = new Uri(fx.Server.BaseAddress, "v1") });

    private static ChatCompletionOptions Options(ChatToolChoice choice) => new()
    {
        Tools =
        {
            ChatTool.CreateFunctionTool("weather", "Weather forecast", BinaryData.FromString(Parameters)),
            ChatTool.CreateFunctionTool("time", "The current time"),
        },
        ToolChoice = choice, Temperature = 1f, Seed = 9, MaxOutputTokenCount = 300,
    };

    [Fact]
    public void RequiredAndNamedCallsParseAndValidate()
    {
        ChatMessage[] question = [new UserChatMessage("Weather in Oslo for two days?")];
        ChatCompletion forced = Chat().CompleteChat(question, Options(ChatToolChoice.CreateFunctionChoice("weather")));
        Assert.Equal(ChatFinishReason.ToolCalls, forced.FinishReason);
        var call = Assert.Single(forced.ToolCalls);
        Assert.Equal("weather", call.FunctionName);
        Assert.True(JsonSchema.FromText(Parameters).Evaluate(JsonNode.Parse(call.FunctionArguments.ToString())).IsValid, call.FunctionArguments.ToString());

        var updates = Chat().CompleteChatStreaming(question, Options(ChatToolChoice.CreateRequiredChoice())).ToList();
        Assert.Equal(ChatFinishReason.ToolCalls, updates.Last(u => u.FinishReason is not null).FinishReason);
        var streamed = updates.SelectMany(u => u.ToolCallUpdates).ToList();
        var name = Assert.Single(streamed, u => u.FunctionName is not null).FunctionName;
        Assert.Contains(name, new[] { "weather", "time" });
        var arguments = string.Concat(streamed.Select(u => u.FunctionArgumentsUpdate?.ToString()));
        if (name == "weather") Assert.True(JsonSchema.FromText(Parameters).Evaluate(JsonNode.Parse(arguments)).IsValid, arguments);
        else Assert.Equal("{}", arguments);

        // The call and its result go back in: the conversation renders and the model answers.
        ChatMessage[] followUp = [.. question, new AssistantChatMessage(forced.ToolCalls), new ToolChatMessage(call.Id, "3 °C, rain")];
        ChatCompletion answer = Chat().CompleteChat(followUp, new ChatCompletionOptions { MaxOutputTokenCount = 4, Temperature = 0f });
        Assert.Equal(ChatFinishReason.Length, answer.FinishReason);
    }

    [Fact]
    public async Task ForcedCallsNeedToolsAndCannotMeetResponseFormat()
    {
        var noTools = await fx.Http.PostAsync("v1/chat/completions", ServerFixture.Json("""{"model":"MODEL","messages":[{"role":"user","content":"x"}],"tool_choice":"required"}""".Replace("MODEL", ServerFixture.ModelId)));
        Assert.Equal("tool_choice", ServerFixture.AssertErrorShape(await noTools.Content.ReadAsStringAsync()).GetProperty("param").GetString());
        var unknown = await fx.Http.PostAsync("v1/chat/completions", ServerFixture.Json("""
            {"model":"MODEL","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}}}
            """.Replace("MODEL", ServerFixture.ModelId)));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("not in tools", ServerFixture.AssertErrorShape(await unknown.Content.ReadAsStringAsync()).GetProperty("message").GetString());
    }
}
