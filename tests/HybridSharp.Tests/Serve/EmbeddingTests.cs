using System.ClientModel;
using System.Net;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Server;
using OpenAI;
using OpenAI.Embeddings;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// /v1/embeddings through the official OpenAI .NET SDK (which asks for base64) and as float JSON: each vector is the
/// unit-length mean of the final hidden states of the input's tokens, computed independently here.
/// </summary>
[Collection("Torch")]
public sealed class EmbeddingTests
{
    [Fact]
    public async Task EmbeddingsAreUnitMeanHiddenStates()
    {
        ITokenizer tokenizer = new ByteTokenizer();
        using var model = SlotCacheTests.MixedModel(seed: 2, maxPositions: 512);
        model.eval();
        string[] texts = ["the sea is calm", "a storm is coming"];
        var expected = new List<float[]>();
        using (NewDisposeScope())
        using (inference_mode())
            foreach (var text in texts)
            {
                var ids = tokenizer.Encode(text, addSpecialTokens: true);
                var h = model.ForwardHidden(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]))[0];
                var mean = h.mean([0]);
                expected.Add(mean.div(mean.norm()).data<float>().ToArray());
            }

        await using var server = await HybridServer.StartAsync(model, tokenizer, ChatTemplate.For(tokenizer), new ServerOptions { ModelId = "m", Port = 0 });
        var client = new EmbeddingClient("m", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });
        var result = (await client.GenerateEmbeddingsAsync(texts)).Value;
        for (int i = 0; i < texts.Length; i++)
        {
            var v = result[i].ToFloats().ToArray();
            Assert.Equal(model.Config.HiddenSize, v.Length);
            for (int j = 0; j < v.Length; j++) Assert.Equal(expected[i][j], v[j], 5);
        }

        using var http = ServerFixture.NewClient(server.BaseAddress);
        var reply = await http.PostAsync("v1/embeddings", ServerFixture.Json("""{"model":"m","input":"the sea is calm","encoding_format":"float"}"""));
        var root = JsonDocument.Parse(await reply.Content.ReadAsStringAsync()).RootElement;
        var floats = root.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(expected[0][0], floats[0], 5);
        Assert.Equal(16, root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()); // BOS + 15 bytes

        foreach (var (body, param) in new[]
        {
            ("""{"model":"m","input":[]}""", "input"),
            ("""{"model":"m","input":[1,{"a":1}]}""", "input"),
            ("""{"model":"m","input":"x","dimensions":3}""", "dimensions"),
            ("""{"model":"m","input":"x","encoding_format":"hex"}""", "encoding_format"),
        })
        {
            var bad = await http.PostAsync("v1/embeddings", ServerFixture.Json(body));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal(param, ServerFixture.AssertErrorShape(await bad.Content.ReadAsStringAsync()).GetProperty("param").GetString());
        }
    }
}
