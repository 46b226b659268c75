using System.Net;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using HybridSharp.Server;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// Log-probabilities from the server equal those of one full forward pass over prompt + reply (≤ 1e-4), on a hybrid
/// (attention + SSD + DMA + Mamba-1) model: chat with top_logprobs, legacy completions with echo, whole and streamed.
/// </summary>
[Collection("Torch")]
public sealed class ServerLogprobTests
{
    [Fact]
    public async Task LogprobsMatchAFullForwardPass()
    {
        ITokenizer tokenizer = new ByteTokenizer();
        using var model = SlotCacheTests.MixedModel(seed: 21, maxPositions: 512);
        model.eval();
        var reply = new TextGenerator(model, tokenizer).Generate("abc", new GenerationOptions { MaxNewTokens = 6, Sampling = SamplingOptions.Greedy });
        int[] ids = [.. tokenizer.Encode("abc", addSpecialTokens: true), .. reply.TokenIds];
        double[][] expected;
        using (NewDisposeScope())
        using (inference_mode())
        {
            var lp = model.Forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length])).log_softmax(-1)[0];
            expected = Enumerable.Range(0, ids.Length - 1).Select(t => lp[t].data<float>().Select(v => (double)v).ToArray()).ToArray();
        }

        await using var server = await HybridServer.StartAsync(model, tokenizer, ChatTemplate.For(tokenizer), new ServerOptions { ModelId = "m", Port = 0 });
        using var http = ServerFixture.NewClient(server.BaseAddress);
        async Task<JsonElement> Post(string path, string json)
        {
            var r = await http.PostAsync(path, ServerFixture.Json(json));
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.OK, text);
            return JsonDocument.Parse(text).RootElement.Clone();
        }

        // Legacy completions with echo: every prompt token after BOS and every generated token.
        var completion = await Post("v1/completions", $$"""{"model":"m","prompt":"abc","max_tokens":{{reply.TokenIds.Count}},"temperature":0,"logprobs":3,"echo":true}""");
        var lps = completion.GetProperty("choices")[0].GetProperty("logprobs");
        var tokenLogprobs = lps.GetProperty("token_logprobs").EnumerateArray().ToList();
        Assert.Equal(ids.Length, tokenLogprobs.Count);
        Assert.Equal(JsonValueKind.Null, tokenLogprobs[0].ValueKind);
        for (int t = 1; t < ids.Length; t++) Assert.Equal(expected[t - 1][ids[t]], tokenLogprobs[t].GetDouble(), 4);
        Assert.All(lps.GetProperty("top_logprobs").EnumerateArray().Skip(1), top => Assert.Equal(3, top.EnumerateObject().Count()));

        // Chat, streamed: the generated tokens' log-probabilities and their top alternatives, best first.
        var sse = await http.PostAsync("v1/chat/completions", ServerFixture.Json(
            """{"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":4,"temperature":0,"logprobs":true,"top_logprobs":2,"stream":true}"""));
        var entries = ServerFixture.SseData(await sse.Content.ReadAsStringAsync())[..^1]
            .Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("logprobs"))
            .Where(l => l.ValueKind == JsonValueKind.Object)
            .SelectMany(l => l.GetProperty("content").EnumerateArray().Select(x => x.Clone())).ToList();
        Assert.InRange(entries.Count, 1, 4);
        foreach (var e in entries)
        {
            var top = e.GetProperty("top_logprobs").EnumerateArray().Select(x => x.GetProperty("logprob").GetDouble()).ToList();
            Assert.Equal(2, top.Count);
            Assert.True(top[0] >= top[1]);
            Assert.Equal(top[0], e.GetProperty("logprob").GetDouble(), 6); // greedy picks the best
        }

        // Wrong combinations are 400s naming the field.
        var bad = await http.PostAsync("v1/chat/completions", ServerFixture.Json("""{"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":2}"""));
        Assert.Equal("top_logprobs", ServerFixture.AssertErrorShape(await bad.Content.ReadAsStringAsync()).GetProperty("param").GetString());
    }
}
