using System.ClientModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using HybridSharp.Server;
using Json.Schema;
using Microsoft.Extensions.AI;
using OpenAI;
using Xunit;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// Microsoft.Extensions.AI, the way a .NET user would drive a model: the in-process <see cref="HybridChatClient"/>
/// (matches the library generator; streaming equals whole; tools run through FunctionInvokingChatClient) and
/// Microsoft.Extensions.AI.OpenAI's client against <c>hybrid serve</c> (tools and structured output).
/// </summary>
[Collection("Torch")]
public sealed class ChatClientTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    public enum City { Oslo, Lima }

    private const string WeatherSchema = """{"type":"object","properties":{"city":{"enum":["Oslo","Lima"]}},"required":["city"],"additionalProperties":false}""";

    [Fact]
    public async Task InProcessClientMatchesTheGeneratorAndRunsTools()
    {
        var tokenizer = new ByteTokenizer();
        using var model = SlotCacheTests.MixedModel(seed: 17, maxPositions: 1024);
        var template = ChatTemplate.For(tokenizer);
        var expected = new TextGenerator(model, tokenizer).Generate(template.Render([HybridSharp.Chat.ChatMessage.FromUser("hello")], addGenerationPrompt: true),
            new GenerationOptions { MaxNewTokens = 12, Sampling = SamplingOptions.Greedy, AddBos = false, StopStrings = template.StopStrings });

        using var client = await HybridChatClient.StartAsync(model, tokenizer, template);
        var greedy = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        var whole = await client.GetResponseAsync([new AiChatMessage(ChatRole.User, "hello")], greedy);
        Assert.Equal(expected.Text, whole.Text);
        Assert.Equal(expected.GeneratedTokens, (int)whole.Usage!.OutputTokenCount!);
        var streamed = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([new AiChatMessage(ChatRole.User, "hello")], greedy)) streamed.Add(u);
        Assert.Equal(expected.Text, string.Concat(streamed.Select(u => u.Text)));

        // A forced call comes back as FunctionCallContent; FunctionInvokingChatClient runs it and asks again.
        int calls = 0;
        var weather = AIFunctionFactory.Create((City city) => { calls++; return $"rain in {city}"; }, "weather", "Weather forecast");
        var options = new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny, Temperature = 1, Seed = 3, MaxOutputTokens = 200 };
        var forced = await client.GetResponseAsync([new AiChatMessage(ChatRole.User, "Weather?")], options);
        Assert.Equal(ChatFinishReason.ToolCalls, forced.FinishReason);
        var call = Assert.Single(forced.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("weather", call.Name);
        Assert.True(call.Arguments!.ContainsKey("city"));

        using var invoking = new ChatClientBuilder(client).UseFunctionInvocation().Build();
        var answered = await invoking.GetResponseAsync([new AiChatMessage(ChatRole.User, "Weather?")],
            new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireSpecific("weather"), Temperature = 1, Seed = 4, MaxOutputTokens = 200 });
        Assert.True(calls >= 1, "the function ran: " + string.Join(" | ", answered.Messages.Select(m => $"{m.Role}: {m.Text} [{string.Join(",", m.Contents.Select(c => c.GetType().Name))}]")) + $" finish {answered.FinishReason}");
        Assert.Contains(answered.Messages.SelectMany(m => m.Contents), c => c is FunctionResultContent);
    }

    [Fact]
    public async Task OpenAiExtensionClientGetsToolCallsAndStructuredOutputFromTheServer()
    {
        IChatClient client = new OpenAI.Chat.ChatClient(ServerFixture.ModelId, new ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(fx.Server.BaseAddress, "v1") }).AsIChatClient();
        var tool = AIFunctionFactory.CreateDeclaration("weather", "Weather forecast", JsonDocument.Parse(WeatherSchema).RootElement);
        var reply = await client.GetResponseAsync([new AiChatMessage(ChatRole.User, "Weather?")],
            new ChatOptions { Tools = [tool], ToolMode = ChatToolMode.RequireAny, Temperature = 1, Seed = 5, MaxOutputTokens = 100 });
        var call = Assert.Single(reply.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("weather", call.Name);
        Assert.Contains(call.Arguments!["city"]?.ToString(), new[] { "Oslo", "Lima" });

        var json = await client.GetResponseAsync([new AiChatMessage(ChatRole.User, "Pick a city as JSON.")],
            new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(WeatherSchema).RootElement, "city"), Temperature = 0, MaxOutputTokens = 50 });
        Assert.True(JsonSchema.FromText(WeatherSchema).Evaluate(JsonNode.Parse(json.Text)).IsValid, json.Text);
    }
}
