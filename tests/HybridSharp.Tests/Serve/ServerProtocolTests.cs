using System.Net;
using System.Text;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Server;
using Xunit;
using HybridSharp.Checkpoints;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// The HTTP contract around generation: invalid text and unimplemented fields are 400s naming the field, a queued
/// client that leaves frees its place at once, CORS preflights pass before the key check, the Bearer scheme is
/// case-insensitive, a wrong method is a 405, and generation_config.json supplies the defaults.
/// </summary>
[Collection("Torch")]
public sealed class ServerProtocolTests
{
    private static Task<(HybridServer Server, CausalLM Model, HttpClient Http)> Start(ServerOptions options) =>
        ServerFixture.StartMixed(options, seed: 8);

    private static async Task<(HttpStatusCode Status, JsonElement Error)> Post(HttpClient http, string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        var reply = await http.PostAsync(path, content);
        var text = await reply.Content.ReadAsStringAsync();
        return (reply.StatusCode, reply.IsSuccessStatusCode ? default : ServerFixture.AssertErrorShape(text));
    }

    private static Task<(HttpStatusCode Status, JsonElement Error)> Post(HttpClient http, string path, string json) =>
        Post(http, path, Encoding.UTF8.GetBytes(json));

    [Fact]
    public async Task BadTextAndUnimplementedFieldsAre400sNamingTheField()
    {
        var (server, model, http) = await Start(new ServerOptions { ModelId = "m", Port = 0 });
        await using (server)
        using (model)
        using (http)
        {
            // A lone surrogate escape and raw invalid UTF-8 bytes inside a string.
            var (s1, e1) = await Post(http, "v1/chat/completions", """{"model":"m","messages":[{"role":"user","content":"a\ud83db"}]}""");
            Assert.Equal((HttpStatusCode.BadRequest, "messages[0].content"), (s1, e1.GetProperty("param").GetString()));
            var bytes = Encoding.UTF8.GetBytes("""{"model":"m","prompt":"aXb"}""");
            bytes[Array.IndexOf(bytes, (byte)'X')] = 0xC3; // a lead byte with no continuation
            var (s2, _) = await Post(http, "v1/completions", bytes);
            Assert.Equal(HttpStatusCode.BadRequest, s2);

            foreach (var (field, json) in new[]
            {
                ("logit_bias", """{"model":"m","messages":[{"role":"user","content":"x"}],"logit_bias":{"1":5}}"""),
                ("functions", """{"model":"m","messages":[{"role":"user","content":"x"}],"functions":[]}"""),
                ("tool_choice", """{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required"}"""),
                ("response_format", """{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}}"""),
                ("suffix", """{"model":"m","prompt":"x","suffix":"y"}"""),
                ("store", """{"model":"m","prompt":"x","store":true}"""),
            })
            {
                var (status, error) = await Post(http, field == "suffix" || field == "store" ? "v1/completions" : "v1/chat/completions", json);
                Assert.Equal((HttpStatusCode.BadRequest, field), (status, error.GetProperty("param").GetString()));
            }
            // Bookkeeping fields with no effect here, vLLM's sampling extras and null values are accepted.
            var (ok, _) = await Post(http, "v1/chat/completions",
                """{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":2,"user":"u1","metadata":{"a":"b"},"top_k":5,"min_p":0.1,"repetition_penalty":1.1,"logit_bias":null,"tool_choice":"auto","response_format":{"type":"text"}}""");
            Assert.Equal(HttpStatusCode.OK, ok);
        }
    }

    [Fact]
    public async Task QueuedClientsThatLeaveFreeTheirPlaceAtOnce()
    {
        var (server, model, http) = await Start(new ServerOptions { ModelId = "m", Port = 0, MaxBatch = 1, QueueCapacity = 4, MaxTokens = 4000 });
        await using (server)
        using (model)
        using (http)
        {
            using var hold = new CancellationTokenSource();
            var running = http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = ServerFixture.Json("""{"model":"m","prompt":"go","max_tokens":4000,"temperature":0,"stream":true}"""),
            }, HttpCompletionOption.ResponseHeadersRead, hold.Token);
            while (server.Engine.Active == 0) await Task.Delay(5);
            var leaving = new CancellationTokenSource();
            var queued = Enumerable.Range(0, 4).Select(_ => http.PostAsync("v1/completions",
                ServerFixture.Json("""{"model":"m","prompt":"q","max_tokens":3}"""), leaving.Token)).ToList();
            while (server.Engine.Waiting < 4) await Task.Delay(5);
            leaving.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.WhenAll(queued));
            var deadline = DateTime.UtcNow.AddSeconds(1); // at once, not when the running stream ends
            while (server.Engine.Waiting > 0 && DateTime.UtcNow < deadline) await Task.Delay(5);
            Assert.Equal(0, server.Engine.Waiting);
            Assert.Equal(4, server.Engine.Cancelled);
            // The next client is queued, not refused; it is served once the running stream ends.
            var next = http.PostAsync("v1/completions", ServerFixture.Json("""{"model":"m","prompt":"next","max_tokens":2}"""));
            while (server.Engine.Waiting == 0 && !next.IsCompleted) await Task.Delay(5);
            (await running).Dispose(); // the streaming client leaves too
            hold.Cancel();
            var reply = await next;
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        }
    }

    [Fact]
    public async Task CorsKeysAndMethods()
    {
        var (server, model, http) = await Start(new ServerOptions { ModelId = "m", Port = 0, ApiKey = "k", CorsOrigins = ["http://localhost:3000"] });
        await using (server)
        using (model)
        using (http)
        {
            // The preflight carries no key and passes; the real request then needs the key, in any letter case.
            var preflight = new HttpRequestMessage(HttpMethod.Options, "v1/chat/completions");
            preflight.Headers.Add("Origin", "http://localhost:3000");
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
            var answer = await http.SendAsync(preflight);
            Assert.True(answer.IsSuccessStatusCode, answer.StatusCode.ToString());
            Assert.Equal("http://localhost:3000", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());

            var other = new HttpRequestMessage(HttpMethod.Options, "v1/chat/completions");
            other.Headers.Add("Origin", "http://evil.example");
            other.Headers.Add("Access-Control-Request-Method", "POST");
            Assert.False((await http.SendAsync(other)).Headers.Contains("Access-Control-Allow-Origin"));

            var request = new HttpRequestMessage(HttpMethod.Get, "v1/models");
            request.Headers.TryAddWithoutValidation("Authorization", "bearer k");
            request.Headers.Add("Origin", "http://localhost:3000");
            var models = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, models.StatusCode);
            Assert.Equal("http://localhost:3000", models.Headers.GetValues("Access-Control-Allow-Origin").Single());

            var wrong = new HttpRequestMessage(HttpMethod.Get, "v1/chat/completions");
            wrong.Headers.TryAddWithoutValidation("Authorization", "Bearer k");
            var refused = await http.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, refused.StatusCode);
            Assert.Equal("POST", refused.Content.Headers.Allow.Single());
            ServerFixture.AssertErrorShape(await refused.Content.ReadAsStringAsync());
        }
        Assert.Throws<ArgumentException>(() => new ServerOptions { CorsOrigins = ["localhost:3000/"] }.Validate());
    }

    [Fact]
    public async Task GenerationConfigGivesTheDefaults()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir[GenerationConfig.FileName], """{"do_sample": false, "temperature": 0.6, "max_new_tokens": 5, "eos_token_id": [1, 7]}""");
        var defaults = GenerationConfig.Read(dir.Path);
        Assert.Equal((false, 0.0, 5), (defaults.DoSample, defaults.DefaultTemperature, defaults.MaxNewTokens));
        Assert.Equal([1, 7], defaults.EosTokenIds);
        File.WriteAllText(dir[GenerationConfig.FileName], """{"top_k": "40"}""");
        Assert.Contains("top_k", Assert.Throws<InvalidDataException>(() => GenerationConfig.Read(dir.Path)).Message);

        var (server, model, http) = await Start(new ServerOptions { ModelId = "m", Port = 0, Defaults = defaults with { EosTokenIds = [] } });
        await using (server)
        using (model)
        using (http)
        {
            // Greedy and 5 tokens unless the request says otherwise: two calls agree, and the budget is the config's.
            async Task<JsonElement> Complete(string json)
            {
                var reply = await http.PostAsync("v1/completions", ServerFixture.Json(json));
                Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
                return JsonDocument.Parse(await reply.Content.ReadAsStringAsync()).RootElement.Clone();
            }
            var a = await Complete("""{"model":"m","prompt":"abc","seed":1}""");
            var b = await Complete("""{"model":"m","prompt":"abc","seed":2}""");
            Assert.Equal(a.GetProperty("choices")[0].GetProperty("text").GetString(), b.GetProperty("choices")[0].GetProperty("text").GetString());
            Assert.True(a.GetProperty("usage").GetProperty("completion_tokens").GetInt32() <= 5);
            var longer = await Complete("""{"model":"m","prompt":"abc","max_tokens":9,"temperature":0}""");
            Assert.True(longer.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 5 ||
                longer.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "stop");
        }
    }

    [Fact]
    public async Task MetricsCountRequestsTokensAndTimings()
    {
        var (server, model, http) = await Start(new ServerOptions { ModelId = "m", Port = 0 });
        await using (server)
        using (model)
        using (http)
        {
            var ok = await http.PostAsync("v1/completions", ServerFixture.Json("""{"model":"m","prompt":"abcd","max_tokens":4,"temperature":0}"""));
            var usage = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");
            await http.PostAsync("v1/completions", ServerFixture.Json("""{"model":"m","prompt":"x","max_tokens":0}"""));
            var reply = await http.GetAsync("metrics");
            Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
            Assert.StartsWith("text/plain", reply.Content.Headers.ContentType!.ToString());
            var lines = (await reply.Content.ReadAsStringAsync()).Split('\n');
            double Value(string series) => double.Parse(lines.Single(l => l.StartsWith(series + " ", StringComparison.Ordinal))[(series.Length + 1)..],
                System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(1, Value("hybrid_requests_total{route=\"/v1/completions\",status=\"200\"}"));
            Assert.Equal(1, Value("hybrid_requests_total{route=\"/v1/completions\",status=\"400\"}"));
            Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32(), Value("hybrid_prompt_tokens_total"));
            Assert.Equal(usage.GetProperty("completion_tokens").GetInt32(), Value("hybrid_completion_tokens_total"));
            Assert.Equal(1, Value("hybrid_time_to_first_token_seconds_count"));
            Assert.True(Value("hybrid_batch_size_count") >= 1);
            Assert.Equal(0, Value("hybrid_queue_depth"));
        }
    }
}
