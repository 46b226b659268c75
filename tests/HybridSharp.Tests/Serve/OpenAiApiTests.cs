#pragma warning disable OPENAI001 // ChatCompletionOptions.Seed is marked experimental in the SDK
using System.ClientModel;
using System.Net;
using System.Text.Json;
using HybridSharp.Inference;
using OpenAI;
using OpenAI.Chat;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>The server through the official OpenAI .NET SDK and raw HTTP, against the library's own generator.</summary>
[Collection("Torch")]
public sealed class OpenAiApiTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private ChatClient Chat() => new(ServerFixture.ModelId, new ApiKeyCredential("dummy"),
        new OpenAIClientOptions { Endpoint = new Uri(fx.Server.BaseAddress, "v1") });

    private static ChatCompletionOptions Greedy(int maxTokens) => new() { MaxOutputTokenCount = maxTokens, Temperature = 0f };

    [Fact]
    public void ChatCompletionMatchesTheLibraryGenerator()
    {
        Assert.True(fx.ExpectedChat.GeneratedTokens > 0);
        ChatCompletion reply = Chat().CompleteChat([new UserChatMessage(ServerFixture.ChatPrompt)], Greedy(ServerFixture.ChatTokens));
        Assert.Equal(fx.ExpectedChat.Text, string.Concat(reply.Content.Select(p => p.Text)));
        Assert.Equal(fx.ExpectedChat.FinishReason == FinishReason.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length, reply.FinishReason);
        Assert.Equal(fx.ExpectedChat.PromptTokens, reply.Usage.InputTokenCount);
        Assert.Equal(fx.ExpectedChat.GeneratedTokens, reply.Usage.OutputTokenCount);
        Assert.Equal(reply.Usage.InputTokenCount + reply.Usage.OutputTokenCount, reply.Usage.TotalTokenCount);
        Assert.Equal(ChatMessageRole.Assistant, reply.Role);
    }

    [Fact]
    public void StreamingChatCarriesTheSameTextAndUsageOnTheLastUpdate()
    {
        var updates = Chat().CompleteChatStreaming([new UserChatMessage(ServerFixture.ChatPrompt)], Greedy(ServerFixture.ChatTokens)).ToList();
        Assert.True(updates.Count >= 2);
        var text = string.Concat(updates.SelectMany(u => u.ContentUpdate).Select(p => p.Text));
        Assert.Equal(fx.ExpectedChat.Text, text);
        Assert.Single(updates, u => u.FinishReason is not null);
        var usage = updates[^1].Usage;
        Assert.NotNull(usage);
        Assert.Equal(fx.ExpectedChat.GeneratedTokens, usage.OutputTokenCount);
        Assert.Equal(fx.ExpectedChat.PromptTokens, usage.InputTokenCount);
        Assert.All(updates[..^1], u => Assert.Null(u.Usage));
    }

    [Fact]
    public void ContentAsTextPartsEqualsContentAsString()
    {
        var parts = Chat().CompleteChat([new UserChatMessage(ChatMessageContentPart.CreateTextPart("hello "), ChatMessageContentPart.CreateTextPart("there"))],
            Greedy(ServerFixture.ChatTokens));
        Assert.Equal(fx.ExpectedChat.Text, string.Concat(parts.Value.Content.Select(p => p.Text)));
    }

    [Fact]
    public async Task StopStringCutsTheReply()
    {
        var free = fx.ExpectedText.Text;
        Assert.True(free.Length >= 6, $"reference text too short: '{free}'");
        var stop = free.Substring(3, 2);
        using var response = await fx.Http.PostAsync("v1/completions", ServerFixture.Json(JsonSerializer.Serialize(new
        {
            model = ServerFixture.ModelId, prompt = "abc", max_tokens = 16, temperature = 0, stop = new[] { "never-there", stop },
        })));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse((await response.Content.ReadAsStringAsync()));
        var choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal(free[..free.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void SameSeedGivesTheSameSampledText()
    {
        string Sample(long seed)
        {
            var options = new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 1.5f, Seed = seed };
            return string.Concat(Chat().CompleteChat([new UserChatMessage("tell me")], options).Value.Content.Select(p => p.Text));
        }
        var a = Sample(123);
        Assert.Equal(a, Sample(123));
        Assert.Equal(Sample(77), Sample(77));
        Assert.NotEqual(fx.ExpectedChat.Text, a + "\0"); // sampled, non-trivial call
    }

    [Fact]
    public async Task LegacyCompletionsWholeAndStreamed()
    {
        var whole = await fx.Http.PostAsync("v1/completions", ServerFixture.Json($$"""{"model":"{{ServerFixture.ModelId}}","prompt":"abc","max_tokens":16,"temperature":0}"""));
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        using (var doc = JsonDocument.Parse((await whole.Content.ReadAsStringAsync())))
        {
            var root = doc.RootElement;
            Assert.Equal("text_completion", root.GetProperty("object").GetString());
            Assert.StartsWith("cmpl-", root.GetProperty("id").GetString());
            Assert.Equal(JsonValueKind.Number, root.GetProperty("created").ValueKind);
            root.GetProperty("created").GetInt64();
            Assert.Equal(fx.ExpectedText.Text, root.GetProperty("choices")[0].GetProperty("text").GetString());
            Assert.Equal(fx.ExpectedText.GeneratedTokens, root.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }

        var streamed = await fx.Http.PostAsync("v1/completions", ServerFixture.Json($$"""{"model":"{{ServerFixture.ModelId}}","prompt":["abc"],"max_tokens":16,"temperature":0,"stream":true,"stream_options":{"include_usage":true} }"""));
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType?.MediaType);
        var events = ServerFixture.SseData((await streamed.Content.ReadAsStringAsync()));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        var usageChunk = chunks[^1];
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.Equal(fx.ExpectedText.GeneratedTokens, usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Equal(fx.ExpectedText.Text, string.Concat(chunks[..^1].Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.Equal(fx.ExpectedText.FinishReason, chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task StreamingChatFollowsTheSseSequence()
    {
        var response = await fx.Http.PostAsync("v1/chat/completions", ServerFixture.Json($$"""
            {"model":"{{ServerFixture.ModelId}}","messages":[{"role":"user","content":"{{ServerFixture.ChatPrompt}}"}],"max_tokens":{{ServerFixture.ChatTokens}},"temperature":0,"stream":true}
            """));
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        var events = ServerFixture.SseData((await response.Content.ReadAsStringAsync()));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        var first = chunks[0].GetProperty("choices")[0].GetProperty("delta");
        Assert.Equal("assistant", first.GetProperty("role").GetString());
        Assert.Equal("", first.GetProperty("content").GetString());
        // Pieces flow token by token (ChatML's <|im_end|> is a special token, so no stop-string hold-back delays them).
        int contentChunks = chunks.Count(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) && t.GetString()!.Length > 0);
        if (fx.ExpectedChat.GeneratedTokens >= 4) Assert.True(contentChunks >= 2, $"{contentChunks} content chunks for {fx.ExpectedChat.GeneratedTokens} tokens");
        var last = chunks[^1].GetProperty("choices")[0]; // no include_usage: the finish chunk is last
        Assert.Empty(last.GetProperty("delta").EnumerateObject());
        Assert.Equal(fx.ExpectedChat.FinishReason, last.GetProperty("finish_reason").GetString());
        Assert.All(chunks, c =>
        {
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
            Assert.Equal(JsonValueKind.Number, c.GetProperty("created").ValueKind);
            Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind);
        });
    }

    [Fact]
    public async Task ModelsAndHealth()
    {
        using var models = JsonDocument.Parse((await fx.Http.GetStringAsync("v1/models")));
        var model = models.RootElement.GetProperty("data")[0];
        Assert.Equal(ServerFixture.ModelId, model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(JsonValueKind.Number, model.GetProperty("created").ValueKind);
        Assert.Equal("hybridsharp", model.GetProperty("owned_by").GetString());
        using var health = JsonDocument.Parse((await fx.Http.GetStringAsync("health")));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("{not json", 400, null)]
    [InlineData("[1,2]", 400, null)]
    [InlineData("""{"model":"tiny-hybrid","messages":"hi"}""", 400, "messages")]
    [InlineData("""{"model":"tiny-hybrid","messages":[]}""", 400, "messages")]
    [InlineData("""{"model":"tiny-hybrid","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", 400, "temperature")]
    [InlineData("""{"model":"tiny-hybrid","messages":[{"role":"user","content":"x"}],"max_tokens":1000000000}""", 400, "max_tokens")]
    [InlineData("""{"model":"tiny-hybrid","messages":[{"role":"user","content":"x"}],"max_tokens":0}""", 400, "max_tokens")]
    [InlineData("""{"model":"tiny-hybrid","messages":[{"role":"user","content":"x"}],"n":0}""", 400, "n")]
    [InlineData("""{"model":"tiny-hybrid","messages":[{"role":"wizard","content":"x"}]}""", 400, "messages[0].role")]
    [InlineData("""{"model":"tiny-hybrid","messages":[{"role":"user","content":[{"type":"image_url"}]}]}""", 400, "messages[0].content")]
    [InlineData("""{"model":"tiny-hybrid","messages":[{"role":"user","content":"x"}],"stop":[1]}""", 400, "stop")]
    [InlineData("""{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}""", 404, "model")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}]}""", 400, "model")]
    public async Task BadChatBodiesGetOpenAiErrors(string body, int status, string? param)
    {
        var response = await fx.Http.PostAsync("v1/chat/completions", ServerFixture.Json(body));
        Assert.Equal(status, (int)response.StatusCode);
        var error = ServerFixture.AssertErrorShape((await response.Content.ReadAsStringAsync()));
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
        if (status == 404) Assert.Equal("model_not_found", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task OversizedBodiesLongPromptsAndUnknownRoutesGetOpenAiErrors()
    {
        var huge = new string('x', 100 * 1024);
        // Expect: 100-continue lets the client hear the 413 before it sends the body (the server never reads it).
        using var oversized = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        { Content = ServerFixture.Json($$"""{"model":"tiny-hybrid","prompt":"{{huge}}"}""") };
        oversized.Headers.ExpectContinue = true;
        var tooBig = await fx.Http.SendAsync(oversized);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        ServerFixture.AssertErrorShape((await tooBig.Content.ReadAsStringAsync()));

        var longPrompt = new string('y', 5000); // 5000 byte tokens > context 4096
        var tooLong = await fx.Http.PostAsync("v1/completions", ServerFixture.Json($$"""{"model":"tiny-hybrid","prompt":"{{longPrompt}}"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Equal("context_length_exceeded", ServerFixture.AssertErrorShape((await tooLong.Content.ReadAsStringAsync())).GetProperty("code").GetString());

        var nowhere = await fx.Http.GetAsync("v1/nothing");
        Assert.Equal(HttpStatusCode.NotFound, nowhere.StatusCode);
        ServerFixture.AssertErrorShape((await nowhere.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task DisconnectedStreamIsCancelledAndItsRowFreed()
    {
        long cancelledBefore = fx.Server.Engine.Cancelled, tokensBefore = fx.Server.Engine.GeneratedTokens;
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = ServerFixture.Json("""{"model":"tiny-hybrid","prompt":"go","max_tokens":4000,"temperature":0,"stream":true}"""),
        })
        using (var response = await fx.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64];
            Assert.True(await stream.ReadAsync(buffer) > 0);
            Assert.Equal(1, fx.Server.Engine.Active);
        } // disconnect mid-stream: 4000 tokens would take many seconds
        var deadline = DateTime.UtcNow.AddSeconds(3);
        while ((fx.Server.Engine.Active > 0 || fx.Server.Engine.Cancelled == cancelledBefore) && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, fx.Server.Engine.Active);
        Assert.Equal(cancelledBefore + 1, fx.Server.Engine.Cancelled);
        Assert.InRange(fx.Server.Engine.GeneratedTokens - tokensBefore, 1, 2000);
    }
}
