using HybridSharp.Config;
using HybridSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>Training / prefill / decode throughput of the Transformer baseline and MFU against measured GEMM peak.</summary>
public static class TransformerBench
{
    private const int Vocab = 8192; // comparable to the reference table
    private const int SeqLen = 256;
    private const int Batch = 8;

    public static void Run(int reps)
    {
        Bench.WarmUp();
        // The machine's fp32 GEMM peak: the best median over shapes like the models' own matmuls.
        var shapes = new (long M, long K, long N)[] { (1024, 1024, 1024), (2048, 512, 2048), (4096, 256, 1024), (2048, 256, 1024), (2048, 512, 8192) };
        var gemm = shapes.Select(s => (s, Bench.GemmGflops(s.M, s.K, s.N, reps * 3))).ToList();
        double peak = gemm.Max(g => g.Item2);
        Console.WriteLine("fp32 GEMM GFLOP/s: " + string.Join(", ", gemm.Select(g => $"{g.s.M}×{g.s.K}×{g.s.N} {g.Item2:F0}")) + $" → peak {peak:F0}");
        Console.WriteLine();
        Console.WriteLine("| model | params | train step (ms) | train tok/s | train GFLOP/s | MFU vs measured GEMM peak | prefill 256 tok/s | decode tok/s (ctx 256) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, d, layers, heads, inter) in new[] { ("d256 L4", 256, 4, 4, 1024), ("d512 L6", 512, 6, 8, 2048) })
        {
            var cfg = new ModelConfig
            {
                VocabSize = Vocab, HiddenSize = d, NumHiddenLayers = layers, NumAttentionHeads = heads, IntermediateSize = inter,
                TieWordEmbeddings = false, MaxPositionEmbeddings = 4096,
            };
            using var model = new CausalLM(cfg);
            var info = ModelInfo.For(cfg, SeqLen);
            var (stepS, tps) = Train(model, reps);
            double gflops = tps * info.TrainingFlopsPerToken / 1e9;
            var (prefill, decode) = Inference(model, reps);
            Console.Error.WriteLine($"  ({name}: {Breakdown[^1]})");
            Console.WriteLine($"| {name} | {model.ParameterCount() / 1e6:F2}M | {stepS * 1000:F0} | {tps:N0} | {gflops:F0} | {gflops / peak:P0} | {prefill:N0} | {decode:N0} |");
        }
    }

    private static (double StepSeconds, double TokensPerSecond) Train(CausalLM model, int reps)
    {
        model.train();
        var decay = model.parameters().Where(p => p.dim() >= 2).ToList();
        var noDecay = model.parameters().Where(p => p.dim() < 2).ToList();
        using var opt = optim.AdamW(
        [
            new AdamW.ParamGroup(decay, new AdamW.Options { LearningRate = 1e-3, weight_decay = 0.1 }),
            new AdamW.ParamGroup(noDecay, new AdamW.Options { LearningRate = 1e-3, weight_decay = 0 }),
        ]);
        var all = decay.Concat(noDecay).ToList();
        using var x = randint(0, Vocab, [Batch, SeqLen]);
        using var y = randint(0, Vocab, [Batch, SeqLen]);
        double s = Bench.MedianSeconds(() =>
        {
            opt.zero_grad();
            model.Loss(x, y).backward();
            nn.utils.clip_grad_norm_(all, 1.0);
            opt.step();
        }, reps, warmups: 3);
        // Where the step goes: forward (incl. loss), backward, clip + AdamW.
        var parts = new List<(double F, double B, double O)>();
        for (int i = 0; i < reps; i++)
        {
            using var scope = NewDisposeScope();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            opt.zero_grad();
            var loss = model.Loss(x, y);
            double f = sw.Elapsed.TotalSeconds;
            loss.backward();
            double b = sw.Elapsed.TotalSeconds - f;
            nn.utils.clip_grad_norm_(all, 1.0);
            opt.step();
            parts.Add((f, b, sw.Elapsed.TotalSeconds - f - b));
        }
        double Med(Func<(double F, double B, double O), double> sel) { var v = parts.Select(sel).OrderBy(z => z).ToList(); return v[v.Count / 2] * 1000; }
        Breakdown.Add($"{model.Config.HiddenSize}: forward+loss {Med(p => p.F):F0} ms, backward {Med(p => p.B):F0} ms, clip+AdamW {Med(p => p.O):F0} ms");
        return (s, Batch * SeqLen / s);
    }

    private static readonly List<string> Breakdown = [];

    private static (double Prefill, double Decode) Inference(CausalLM model, int reps)
    {
        model.eval();
        using var _ = inference_mode();
        using var prompt = randint(0, Vocab, [1, SeqLen]);
        double prefillS = Bench.MedianSeconds(() =>
        {
            using var cache = model.NewCache(1, SeqLen);
            model.Forward(prompt, cache);
        }, reps);
        const int newTokens = 64;
        var decodeTimes = new List<double>();
        for (int rep = 0; rep < reps + 1; rep++)
        {
            using var scope = NewDisposeScope();
            using var cache = model.NewCache(1, SeqLen + newTokens);
            model.Forward(prompt, cache);
            var next = tensor(new long[] { 1 }).reshape(1, 1);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < newTokens; i++)
            {
                using var step = NewDisposeScope();
                next = model.Forward(next, cache).argmax(-1).MoveToOuterDisposeScope();
            }
            if (rep > 0) decodeTimes.Add(sw.Elapsed.TotalSeconds); // rep 0 is a warm-up
        }
        decodeTimes.Sort();
        return (SeqLen / prefillS, newTokens / decodeTimes[decodeTimes.Count / 2]);
    }
}
