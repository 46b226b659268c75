using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// Bounded loopback load: 64 concurrent clients × 10 requests mixing chat, streaming chat, streaming legacy completions
/// and clients that disconnect mid-stream, against a server with 16 batch rows and 32 queue places (so some requests get
/// 429; clients then wait 50 ms, a shortened Retry-After). Every answer must be well-formed or a clean 429; the server must end idle, healthy and near its memory baseline.
/// </summary>
[Collection("Torch")]
public sealed class LoadTests(ServerFixture.WithLongQueue fx, ITestOutputHelper output) : IClassFixture<ServerFixture.WithLongQueue>
{
    private enum Outcome { Whole, Streamed, Rejected, Disconnected }

    [Fact]
    public async Task SixtyFourClientsTimesTenRequestsAllWellFormedOrRejected()
    {
        using var http = ServerFixture.NewClient(fx.Server.BaseAddress);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Run(http, client: i, request: 0))); // warm-up
        long baseline = await SettledMemory();

        var sw = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 64).Select(async client =>
        {
            var mine = new List<Outcome>();
            for (int i = 0; i < 10; i++)
            {
                mine.Add(await Run(http, client, i));
                if (mine[^1] == Outcome.Rejected) await Task.Delay(50);
            }
            return mine;
        }));
        sw.Stop();
        var all = outcomes.SelectMany(o => o).ToList();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((fx.Server.Engine.Active > 0 || fx.Server.Engine.Waiting > 0) && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, fx.Server.Engine.Active);
        Assert.Equal(0, fx.Server.Engine.Waiting);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health")).StatusCode);
        Assert.Equal(Outcome.Whole, await Run(http, client: 0, request: 0)); // still serving

        long after = await SettledMemory();
        var counts = all.GroupBy(o => o).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"640 requests in {sw.Elapsed.TotalSeconds:F1} s: {string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}"))}; " +
            $"engine: {fx.Server.Engine.Completed} completed, {fx.Server.Engine.Cancelled} cancelled, {fx.Server.Engine.Steps} decode steps, " +
            $"{fx.Server.Engine.GeneratedTokens} tokens; working set {baseline / 1e6:F0} → {after / 1e6:F0} MB");
        Assert.Equal(640, all.Count);
        Assert.True(counts.GetValueOrDefault(Outcome.Whole) + counts.GetValueOrDefault(Outcome.Streamed) >= 64, "too few requests served");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(50), $"load test took {sw.Elapsed}");
        Assert.True(after - baseline < 200_000_000, $"working set grew by {(after - baseline) / 1e6:F0} MB");
    }

    private static async Task<long> SettledMemory()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(50);
        }
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64;
    }

    /// <summary>One request of the mix; asserts its shape and says how it ended.</summary>
    private static async Task<Outcome> Run(HttpClient http, int client, int request)
    {
        int kind = (client + request) % 4;
        int maxTokens = 1 + (client * 7 + request * 3) % 10;
        string messages = $$"""[{"role":"system","content":"be brief"},{"role":"user","content":"client {{client}} request {{request}}"}]""";
        string body = kind switch
        {
            0 => $$"""{"model":"{{ServerFixture.ModelId}}","messages":{{messages}},"max_tokens":{{maxTokens}},"seed":{{client}}}""",
            1 => $$"""{"model":"{{ServerFixture.ModelId}}","messages":{{messages}},"max_completion_tokens":{{maxTokens}},"stream":true,"stream_options":{"include_usage":true} }""",
            2 => $$"""{"model":"{{ServerFixture.ModelId}}","prompt":"client {{client}}","max_tokens":{{maxTokens}},"stream":true,"temperature":0}""",
            _ => $$"""{"model":"{{ServerFixture.ModelId}}","messages":{{messages}},"max_tokens":400,"stream":true}""",
        };
        using var message = new HttpRequestMessage(HttpMethod.Post, kind == 2 ? "v1/completions" : "v1/chat/completions") { Content = ServerFixture.Json(body) };
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            Assert.NotNull(response.Headers.RetryAfter);
            var error = ServerFixture.AssertErrorShape(await response.Content.ReadAsStringAsync());
            Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
            return Outcome.Rejected;
        }
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        if (kind == 3)
        {
            using var stream = await response.Content.ReadAsStreamAsync();
            Assert.True(await stream.ReadAsync(new byte[32]) > 0);
            return Outcome.Disconnected; // dispose: the client goes away mid-stream
        }
        var text = await response.Content.ReadAsStringAsync();
        if (kind == 0)
        {
            using var doc = JsonDocument.Parse(text);
            var choice = doc.RootElement.GetProperty("choices")[0];
            Assert.Equal(JsonValueKind.String, choice.GetProperty("message").GetProperty("content").ValueKind);
            Assert.Contains(choice.GetProperty("finish_reason").GetString(), new[] { "stop", "length" });
            Assert.InRange(doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 0, maxTokens);
            return Outcome.Whole;
        }
        var events = ServerFixture.SseData(text);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Single(chunks, c => c.GetProperty("choices").GetArrayLength() > 0
            && c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String);
        if (kind == 1)
        {
            Assert.Equal(0, chunks[^1].GetProperty("choices").GetArrayLength());
            Assert.InRange(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 0, maxTokens);
        }
        return Outcome.Streamed;
    }
}
