using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Chat;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Server;

namespace HybridSharp.Bench;

/// <summary>
/// What structured output and <c>n</c> cost in <c>hybrid serve</c> (loopback HTTP, one stream, sampled at temperature 1
/// with a fixed seed, randomly initialised transformer-tiny): decode tok/s of a chat request with a JSON schema of one
/// free string (random weights rarely close it; the token counts are printed) against the same request without a
/// schema, both with <c>ignore_eos</c> so the plain side runs the full budget, on the byte vocabulary and on a 151,669-token
/// vocabulary (Qwen3's tokenizer, from the test references); and one request with <c>n</c> = 4 against 4 concurrent
/// single-choice requests. Rounds alternate between the two sides; medians of <c>reps</c> rounds.
/// </summary>
internal static class ServeFeaturesBench
{
    private const string Schema = """{"type":"object","properties":{"text":{"type":"string"}},"required":["text"],"additionalProperties":false}""";

    public static void Run(string? qwenDir, int tokens, int reps)
    {
        Console.WriteLine($"serve-features: transformer-tiny (random weights), {tokens} tokens per choice, temperature 1, seed 1, medians of {reps} alternating rounds");
        Console.WriteLine("| vocabulary | plain tok/s | json_schema tok/s | schema / plain | n=4 agg tok/s | 4 requests agg tok/s | n=4 / 4 requests |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        Measure("byte (261)", new ByteTokenizer(), tokens, reps).GetAwaiter().GetResult();
        if (qwenDir is not null) Measure("Qwen3 (151,669)", TokenizerFactory.Load(qwenDir), tokens, reps).GetAwaiter().GetResult();
    }

    private static async Task Measure(string label, ITokenizer tokenizer, int tokens, int reps)
    {
        var cfg = Presets.Get("transformer-tiny");
        cfg.VocabSize = tokenizer.VocabSize;
        cfg.BosTokenId = tokenizer.BosId;
        cfg.EosTokenId = [tokenizer.EosId];
        cfg.PadTokenId = tokenizer.PadId;
        using var model = new CausalLM(cfg, seed: 1);
        var options = new ServerOptions { ModelId = "m", Port = 0, MaxBatch = 8, MaxTokens = tokens, ContextLength = 512 };
        await using var server = await HybridServer.StartAsync(model, tokenizer, ChatTemplate.For(tokenizer), options);
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };

        string Chat(bool schema, int n) => new JsonObject
        {
            ["model"] = "m", ["max_tokens"] = tokens, ["temperature"] = 1, ["seed"] = 1, ["n"] = n, ["ignore_eos"] = true,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Write something about the sea." }),
            ["response_format"] = schema
                ? new JsonObject { ["type"] = "json_schema", ["json_schema"] = new JsonObject { ["name"] = "t", ["schema"] = JsonNode.Parse(Schema) } }
                : null,
        }.ToJsonString();

        await Rate(http, Chat(false, 1), 1); // warm-up
        await Rate(http, Chat(true, 1), 1);
        Console.Error.WriteLine($"{label}: plain reply {await Reply(http, Chat(false, 1))}");
        Console.Error.WriteLine($"{label}: schema reply {await Reply(http, Chat(true, 1))}");
        var plain = new List<double>();
        var schema = new List<double>();
        var forked = new List<double>();
        var separate = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            plain.Add(await Rate(http, Chat(false, 1), 1));
            schema.Add(await Rate(http, Chat(true, 1), 1));
            forked.Add(await Rate(http, Chat(false, 4), 1));
            separate.Add(await Rate(http, Chat(false, 1), 4));
        }
        double p = Median(plain), s = Median(schema), f = Median(forked), q = Median(separate);
        Console.WriteLine($"| {label} | {p:F0} | {s:F0} | {s / p:P0} | {f:F0} | {q:F0} | {f / q:F2}× |");
    }

    /// <summary><paramref name="concurrent"/> copies of a request at once; completion tokens per wall second.</summary>
    private static async Task<double> Rate(HttpClient http, string body, int concurrent)
    {
        var sw = Stopwatch.StartNew();
        var counts = await Task.WhenAll(Enumerable.Range(0, concurrent).Select(async _ =>
        {
            using var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")));
            var text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException(text);
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        }));
        return counts.Sum() / sw.Elapsed.TotalSeconds;
    }

    private static async Task<string> Reply(HttpClient http, string body)
    {
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        return $"{root.GetProperty("usage").GetProperty("completion_tokens").GetInt32()} tokens: {root.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()![..Math.Min(60, root.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!.Length)]}";
    }

    private static double Median(List<double> xs)
    {
        var sorted = xs.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
