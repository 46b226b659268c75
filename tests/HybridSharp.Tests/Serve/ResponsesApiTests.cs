using System.Net;
using System.Text.Json;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// /v1/responses as the Vercel AI SDK's default provider calls it: the text equals the chat completion of the same
/// conversation (greedy), the streamed event sequence is complete and its deltas add up to the text, and unsupported
/// items are 400s naming them.
/// </summary>
[Collection("Torch")]
public sealed class ResponsesApiTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private async Task<JsonElement> Post(string path, string json)
    {
        var reply = await fx.Http.PostAsync(path, ServerFixture.Json(json.Replace("MODEL", ServerFixture.ModelId)));
        var text = await reply.Content.ReadAsStringAsync();
        Assert.True(reply.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task ResponsesMatchChatCompletions()
    {
        var chat = await Post("v1/chat/completions", """{"model":"MODEL","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello"}],"max_tokens":10,"temperature":0}""");
        var expected = chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();

        var response = await Post("v1/responses", """{"model":"MODEL","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"hello"}]}],"max_output_tokens":10,"temperature":0}""");
        Assert.Equal("response", response.GetProperty("object").GetString());
        var item = response.GetProperty("output")[0];
        Assert.Equal(("message", "assistant"), (item.GetProperty("type").GetString(), item.GetProperty("role").GetString()));
        Assert.Equal(expected, item.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(chat.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), response.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        var sse = await fx.Http.PostAsync("v1/responses", ServerFixture.Json("""{"model":"MODEL","instructions":"Be brief.","input":"hello","max_output_tokens":10,"temperature":0,"stream":true}""".Replace("MODEL", ServerFixture.ModelId)));
        var events = (await sse.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e =>
        {
            var lines = e.Split('\n');
            Assert.StartsWith("event: ", lines[0]);
            var data = JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement.Clone();
            Assert.Equal(lines[0]["event: ".Length..], data.GetProperty("type").GetString());
            return data;
        }).ToList();
        var types = events.Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], types.Take(4));
        Assert.Contains(types[^1], new[] { "response.completed", "response.incomplete" });
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.GetProperty("sequence_number").GetInt32()));
        Assert.Equal(expected, string.Concat(events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta").Select(e => e.GetProperty("delta").GetString())));

        var bad = await fx.Http.PostAsync("v1/responses", ServerFixture.Json("""{"model":"MODEL","input":[{"type":"function_call_output","call_id":"c","output":"1"}]}""".Replace("MODEL", ServerFixture.ModelId)));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("input[0]", ServerFixture.AssertErrorShape(await bad.Content.ReadAsStringAsync()).GetProperty("param").GetString());
    }
}
