using System.Net;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Server;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// <c>n</c> choices come from one prefill whose cache row is copied per choice (KV, DMA, SSD and Mamba-1 state): choice
/// i with seed s is exactly the single-choice answer with seed s + i, whole and streamed.
/// </summary>
[Collection("Torch")]
public sealed class ServerChoicesTests
{
    [Fact]
    public async Task EachChoiceEqualsASeparateRequestWithItsSeed()
    {
        var tokenizer = new ByteTokenizer();
        using var model = SlotCacheTests.MixedModel(seed: 5, maxPositions: 512);
        await using var server = await HybridServer.StartAsync(model, tokenizer, ChatTemplate.For(tokenizer),
            new ServerOptions { ModelId = "m", Port = 0, MaxBatch = 4 });
        using var http = ServerFixture.NewClient(server.BaseAddress);
        async Task<JsonElement> Post(string json)
        {
            var r = await http.PostAsync("v1/completions", ServerFixture.Json(json));
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.OK, text);
            return JsonDocument.Parse(text).RootElement.Clone();
        }

        var single = new List<(string Text, int Tokens)>();
        for (int i = 0; i < 3; i++)
        {
            var one = await Post($$"""{"model":"m","prompt":"hello","max_tokens":12,"temperature":1,"seed":{{40 + i}}}""");
            single.Add((one.GetProperty("choices")[0].GetProperty("text").GetString()!, one.GetProperty("usage").GetProperty("completion_tokens").GetInt32()));
        }
        Assert.True(single.Select(s => s.Text).Distinct().Count() > 1, "sampling with different seeds should differ");

        var three = await Post("""{"model":"m","prompt":"hello","max_tokens":12,"temperature":1,"seed":40,"n":3}""");
        var choices = three.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(single.Select(s => s.Text), choices.Select(c => c.GetProperty("text").GetString()!));
        Assert.Equal(single.Sum(s => s.Tokens), three.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(6, three.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()); // BOS + "hello", once

        var sse = await http.PostAsync("v1/completions", ServerFixture.Json("""{"model":"m","prompt":"hello","max_tokens":12,"temperature":1,"seed":40,"n":3,"stream":true}"""));
        var chunks = ServerFixture.SseData(await sse.Content.ReadAsStringAsync())[..^1]
            .Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].Clone()).ToList();
        for (int i = 0; i < 3; i++)
        {
            var mine = chunks.Where(c => c.GetProperty("index").GetInt32() == i).ToList();
            Assert.Equal(single[i].Text, string.Concat(mine.Select(c => c.GetProperty("text").GetString())));
            Assert.Single(mine, c => c.GetProperty("finish_reason").ValueKind == JsonValueKind.String);
        }

        var tooMany = await http.PostAsync("v1/completions", ServerFixture.Json("""{"model":"m","prompt":"x","n":5}"""));
        Assert.Equal("n", ServerFixture.AssertErrorShape(await tooMany.Content.ReadAsStringAsync()).GetProperty("param").GetString());
        Assert.Equal(0, server.Engine.Active);
    }
}
