#pragma warning disable OPENAI001 // ChatCompletionOptions.Seed is marked experimental in the SDK
using System.ClientModel;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Tests.Grammar;
using Json.Schema;
using OpenAI;
using OpenAI.Chat;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// response_format through the official OpenAI .NET SDK on a hybrid model whose weights are random: whatever the model
/// prefers, the reply parses and validates against the schema (JsonSchema.Net), whole and streamed. (Sampled: greedy
/// decoding of random weights repeats one character inside a free string until the token budget ends.)
/// </summary>
[Collection("Torch")]
public sealed class StructuredOutputTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private ChatClient Chat() => new(ServerFixture.ModelId, new ApiKeyCredential("dummy"),
        new OpenAIClientOptions { Endpoint = new Uri(fx.Server.BaseAddress, "v1") });

    [Fact]
    public void GreedyRepliesToAnEnumOnlySchemaValidate()
    {
        const string schema = """{"type":"object","properties":{"mood":{"enum":["calm","tense"]},"level":{"type":"integer"},"flags":{"type":"array","items":{"type":"boolean"},"maxItems":2}},"required":["mood","level","flags"],"additionalProperties":false}""";
        var options = new ChatCompletionOptions
        {
            MaxOutputTokenCount = 200, Temperature = 0f,
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("mood", BinaryData.FromString(schema), jsonSchemaIsStrict: true),
        };
        ChatCompletion reply = Chat().CompleteChat([new UserChatMessage("How do you feel?")], options);
        Assert.True(JsonSchema.FromText(schema).Evaluate(JsonNode.Parse(reply.Content[0].Text)).IsValid, reply.Content[0].Text);
    }

    private static bool Valid(string text) => JsonSchema.FromText(JsonGrammarTests.Schema).Evaluate(JsonNode.Parse(text)).IsValid;

    [Theory]
    [InlineData(1f, 1L, false)]
    [InlineData(1f, 2L, false)]
    [InlineData(1f, 3L, true)]
    public void JsonSchemaRepliesValidate(float temperature, long seed, bool stream)
    {
        var options = new ChatCompletionOptions
        {
            MaxOutputTokenCount = 3000, Temperature = temperature, Seed = seed,
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(JsonGrammarTests.Schema), jsonSchemaIsStrict: true),
        };
        ChatMessage[] messages = [new UserChatMessage("Describe a person as JSON.")];
        string text;
        if (stream)
        {
            var updates = Chat().CompleteChatStreaming(messages, options).ToList();
            text = string.Concat(updates.SelectMany(u => u.ContentUpdate).Select(p => p.Text));
            Assert.Equal(ChatFinishReason.Stop, updates.Last(u => u.FinishReason is not null).FinishReason);
        }
        else
        {
            ChatCompletion reply = Chat().CompleteChat(messages, options);
            text = reply.Content[0].Text;
            Assert.Equal(ChatFinishReason.Stop, reply.FinishReason);
        }
        Assert.True(Valid(text), text);
    }

    [Fact]
    public async Task JsonObjectModeAndBadSchemas()
    {
        var reply = await fx.Http.PostAsync("v1/chat/completions", ServerFixture.Json("""
            {"model":"MODEL","messages":[{"role":"user","content":"x"}],"max_tokens":3000,"temperature":1,"seed":4,"response_format":{"type":"json_object"}}
            """.Replace("MODEL", ServerFixture.ModelId)));
        var text = JsonDocument.Parse(await reply.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);

        var bad = await fx.Http.PostAsync("v1/chat/completions", ServerFixture.Json("""
            {"model":"MODEL","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"string","pattern":"a+"}}}}
            """.Replace("MODEL", ServerFixture.ModelId)));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var error = ServerFixture.AssertErrorShape(await bad.Content.ReadAsStringAsync());
        Assert.Equal("response_format", error.GetProperty("param").GetString());
        Assert.Contains("pattern", error.GetProperty("message").GetString());
    }
}
