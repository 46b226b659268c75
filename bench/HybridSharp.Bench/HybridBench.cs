using HybridSharp.Config;
using HybridSharp.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>
/// TransXSSM against the Transformer at equal width, depth and MLP (the "transformer" and "transxssm" presets):
/// training tokens/s (fwd + bwd + AdamW, 4096 tokens per step) and decode tokens/s (prefill a T-token context,
/// then 256 greedy tokens), for T = 512 … 4096. Models are timed alternately within one run so ratios share
/// the machine's state.
/// </summary>
public static class HybridBench
{
    public static void Run(int reps, int[] lengths, string[] presets, int newTokens = 256, bool decode = true, bool train = true, int decodeBatch = 1)
    {
        Console.WriteLine($"presets: {string.Join(" vs ", presets)}; tokens per training step 4096; decode {newTokens} new tokens × batch {decodeBatch}; medians of {reps}");
        foreach (var p in presets)
        {
            var c = Presets.Get(p);
            Console.WriteLine($"  {p}: {LayerPattern.Describe(Enumerable.Range(0, c.NumHiddenLayers).Select(c.LayerType))}, d {c.HiddenSize}, FFN {c.IntermediateSize}, {ModelInfo.For(c, 1).TotalParameters:N0} params");
        }
        Console.WriteLine();
        var header = "| T | " + string.Join(" | ", presets.Select(p => $"{p} train tok/s")) + " | train ratio | "
            + (decode ? string.Join(" | ", presets.Select(p => $"{p} decode tok/s")) + " | decode ratio |" : "");
        Console.WriteLine(header);
        Console.WriteLine("|" + string.Concat(Enumerable.Repeat("---|", header.Count(ch => ch == '|') - 1)));
        foreach (int t in lengths)
        {
            var models = presets.Select(p =>
            {
                var cfg = Presets.Get(p);
                cfg.MaxPositionEmbeddings = Math.Max(cfg.MaxPositionEmbeddings, t + newTokens);
                return new CausalLM(cfg, seed: 1);
            }).ToArray();
            var tr = train ? TrainThroughput(models, t, reps) : presets.Select(_ => double.NaN).ToArray();
            var dec = decode ? DecodeThroughput(models, t, newTokens, reps, decodeBatch) : null;
            var row = $"| {t} | " + string.Join(" | ", tr.Select(v => train ? $"{v:N0}" : "–")) + (train ? $" | {tr[^1] / tr[0]:F2}× |" : " | – |");
            if (dec is not null) row += " " + string.Join(" | ", dec.Select(v => $"{v:N0}")) + $" | {dec[^1] / dec[0]:F2}× |";
            Console.WriteLine(row);
            foreach (var m in models) m.Dispose();
        }
    }

    private static double[] TrainThroughput(CausalLM[] models, int t, int reps)
    {
        int batch = Math.Max(1, 4096 / t);
        var opts = models.Select(m => optim.AdamW(m.parameters(), 1e-4)).ToArray();
        using var x = randint(0, models[0].Config.VocabSize, [batch, t]);
        var times = models.Select(_ => new List<double>()).ToArray();
        for (int rep = 0; rep < reps + 1; rep++)
        {
            for (int i = 0; i < models.Length; i++) // alternate models so both see the same machine state
            {
                models[i].train();
                using var scope = NewDisposeScope();
                var sw = System.Diagnostics.Stopwatch.StartNew();
                opts[i].zero_grad();
                models[i].Loss(x, x).backward();
                opts[i].step();
                if (rep > 0) times[i].Add(sw.Elapsed.TotalSeconds);
            }
        }
        foreach (var o in opts) o.Dispose();
        return times.Select(ts => batch * t / Median(ts)).ToArray();
    }

    private static double[] DecodeThroughput(CausalLM[] models, int t, int newTokens, int reps, int batch)
    {
        using var prompt = randint(0, models[0].Config.VocabSize, [batch, t]);
        var times = models.Select(_ => new List<double>()).ToArray();
        using var _ = inference_mode();
        for (int rep = 0; rep < reps; rep++)
        {
            for (int i = 0; i < models.Length; i++)
            {
                var m = models[i];
                m.eval();
                using var scope = NewDisposeScope();
                using var cache = m.NewCache(batch, t + newTokens);
                m.Forward(prompt, cache);
                var next = ones([batch, 1], ScalarType.Int64);
                // The product's decode path: the managed kernels where the model has them (as generate and serve use).
                var plan = DecodePlan.TryCreate(m, out var _);
                var sw = System.Diagnostics.Stopwatch.StartNew();
                for (int k = 0; k < newTokens; k++)
                {
                    using var step = NewDisposeScope();
                    if (plan is null)
                    {
                        next = m.Forward(next, cache).argmax(-1).MoveToOuterDisposeScope();
                        continue;
                    }
                    var ids = next.view(-1).data<long>().ToArray();
                    var logits = plan.Step(ids, Enumerable.Repeat(cache.Length, batch).ToArray(), cache);
                    cache.Advance(1);
                    next = logits.argmax(-1, keepdim: true).MoveToOuterDisposeScope();
                }
                times[i].Add(sw.Elapsed.TotalSeconds);
            }
        }
        return times.Select(ts => (double)batch * newTokens / Median(ts)).ToArray();
    }

    private static double Median(List<double> v)
    {
        var s = v.OrderBy(x => x).ToList();
        return s[s.Count / 2];
    }
}
