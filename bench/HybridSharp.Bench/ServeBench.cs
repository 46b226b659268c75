using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Server;
using TorchSharp;

namespace HybridSharp.Bench;

/// <summary>
/// <c>hybrid serve</c> throughput over loopback HTTP: for each preset and dtype, an in-process server (max batch 16)
/// answers 1, 4 and 16 concurrent non-streaming /v1/completions requests of <c>tokens</c> greedy tokens each. Reports
/// per-stream and aggregate decode tokens/s (completion tokens from <c>usage</c> ÷ wall time, prefill and HTTP
/// included) and the aggregate speed-up over one stream. Randomly initialised weights: speed does not depend on them.
/// Each preset is warmed up at every stream count before its timed rounds, so the order of <c>--presets</c> does not
/// change the figures.
/// </summary>
internal static class ServeBench
{
    public static void Run(IReadOnlyList<string> presets, IReadOnlyList<string> dtypes, int tokens, int reps)
    {
        Console.WriteLine($"serve: {tokens} new tokens per request, greedy, prompt ≈ 30 tokens, max batch 16; best of {reps} runs per point");
        Console.WriteLine("tok/s = completion tokens ÷ wall time; in brackets: tokens per CPU-second of this process (less sensitive to other load)");
        Console.WriteLine("| model | dtype | 1 stream tok/s | 4 streams agg tok/s | 16 streams agg tok/s | 16 vs 1 |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var preset in presets)
            foreach (var dtype in dtypes)
            {
                var results = Measure(preset, Kernels.WeightFormats.Parse(dtype), tokens, reps).GetAwaiter().GetResult();
                string Cell(int n) => $"{results[n].Wall:F0} ({results[n].PerCpuSecond:F0})";
                Console.WriteLine($"| {preset} | {dtype} | {Cell(1)} | {Cell(4)} | {Cell(16)} | {results[16].Wall / results[1].Wall:F1}× ({results[16].PerCpuSecond / results[1].PerCpuSecond:F1}×) |");
            }
    }

    private static async Task<Dictionary<int, (double Wall, double PerCpuSecond)>> Measure(string preset, Kernels.WeightFormat weights, int tokens, int reps)
    {
        var cfg = Presets.Get(preset);
        using var model = new CausalLM(cfg, seed: 1);
        var options = new ServerOptions { ModelId = preset, Port = 0, MaxBatch = 16, QueueCapacity = 64, MaxTokens = tokens, ContextLength = 512, Weights = weights };
        await using var server = await HybridServer.StartAsync(model, new ByteTokenizer(), ChatTemplate.For(new ByteTokenizer()), options);
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        // Warm-up outside the timed rounds, once per stream count and at the full length: every batch size and cache
        // length the timed rounds meet has run once (JIT, libtorch kernel selection, allocator growth), so the first
        // preset measured is not slower than later ones.
        foreach (int streams in new[] { 1, 4, 16 }) await Round(http, preset, streams, tokens);
        var results = new Dictionary<int, (double, double)>();
        foreach (int streams in new[] { 1, 4, 16 })
        {
            (double Wall, double Cpu) best = (0, 0);
            for (int r = 0; r < reps; r++)
            {
                var x = await Round(http, preset, streams, tokens);
                if (x.Wall > best.Wall) best = x;
            }
            results[streams] = best;
        }
        return results;
    }

    /// <summary>Runs <paramref name="streams"/> concurrent requests; returns completion tokens per wall second and per CPU second.</summary>
    private static async Task<(double Wall, double Cpu)> Round(HttpClient http, string model, int streams, int tokens)
    {
        using var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var counts = await Task.WhenAll(Enumerable.Range(0, streams).Select(async i =>
        {
            var body = JsonSerializer.Serialize(new { model, prompt = $"Stream {i}: once upon a time, in a land far away", max_tokens = tokens, temperature = 0 });
            using var response = await http.PostAsync("v1/completions", new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")));
            response.EnsureSuccessStatusCode();
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        }));
        sw.Stop();
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        return (counts.Sum() / sw.Elapsed.TotalSeconds, counts.Sum() / cpu);
    }
}
