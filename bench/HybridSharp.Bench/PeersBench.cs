using System.Diagnostics;
using HybridSharp.Checkpoints;
using HybridSharp.Checkpoints.Gguf;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using LLama;
using LLama.Common;
using LLama.Native;
using TorchSharp;

namespace HybridSharp.Bench;

/// <summary>
/// Batch-1 decode against llama.cpp (LLamaSharp 0.30, the engine a .NET user would pick instead) on the same weights:
/// each model is written as a HybridSharp model directory and as GGUF (f32 and q8_0, by <c>hybrid export --format
/// gguf</c>'s exporter), then both engines generate greedily from the same prompt, alternately, for every (model,
/// prompt length, threads) point. HybridSharp runs <see cref="TextGenerator"/> — the path of <c>generate</c> and the
/// evaluations — three ways: the managed kernels on fp32 weights, on int8 weights (against llama.cpp's q8_0), and every
/// step on tensors (the path before the managed kernels); its decode speed is (N − 1) new tokens ÷ (time for N tokens − time for 1 token), so prefill is
/// excluded; LLamaSharp runs llama_decode one token at a time after one batched prefill (flash attention off, f32 KV
/// cache). Prints the ratio table and ends with the smallest fp32 ratio.
/// </summary>
internal static class PeersBench
{
    private sealed record Point(string Model, long Parameters, int Prompt, int Threads, double Hybrid, double HybridInt8, double HybridTensors, double LlamaF32, double LlamaQ8);

    public static void Run(IReadOnlyList<string> presets, IReadOnlyList<int> prompts, IReadOnlyList<int> threads, int newTokens, int reps)
    {
        Console.WriteLine($"peers: batch-1 greedy decode of {newTokens} tokens after the prompt; medians of {reps} alternating runs; " +
            $"{Environment.ProcessorCount} cores; LLamaSharp 0.30 (llama.cpp, CPU backend, flash attention off, f32 KV cache)");
        NativeLogConfig.llama_log_set((level, message) => { if (level == LLamaLogLevel.Error) Console.Error.Write(message); });
        var points = new List<Point>();
        var root = Directory.CreateTempSubdirectory("hybrid-peers-").FullName;
        try
        {
            foreach (var preset in presets)
            {
                var dir = Path.Combine(root, preset);
                long parameters;
                using (var model = new CausalLM(Presets.Get(preset), seed: 1))
                {
                    parameters = model.ParameterCount();
                    ModelDirectory.Save(model, new ByteTokenizer(), dir);
                }
                var f32 = GgufExporter.Export(dir, Path.Combine(root, preset + "-f32.gguf"), "f32").Path;
                var q8 = GgufExporter.Export(dir, Path.Combine(root, preset + "-q8_0.gguf"), "q8_0").Path;
                foreach (int t in threads)
                {
                    torch.set_num_threads(t);
                    var (m, tokenizer) = ModelDirectory.Load(dir);
                    using var _ = m;
                    var generator = new TextGenerator(m, tokenizer);
                    var tensors = new TextGenerator(m, tokenizer) { ManagedKernels = false };
                    var (m8, _) = ModelDirectory.Load(dir);
                    using var __ = m8;
                    m8.PackWeights(Kernels.WeightFormat.Int8);
                    var int8 = new TextGenerator(m8, tokenizer);
                    using var llamaF32 = new LlamaRunner(f32, t, prompts.Max() + newTokens + 8);
                    using var llamaQ8 = new LlamaRunner(q8, t, prompts.Max() + newTokens + 8);
                    foreach (int p in prompts)
                    {
                        var ids = PromptIds(p);
                        var h = new List<double>(); var h8 = new List<double>(); var ht = new List<double>(); var lf = new List<double>(); var lq = new List<double>();
                        // warm-up at full length, twice: the JIT's tiered compilation settles after a few hundred steps
                        for (int w = 0; w < 2; w++) { HybridDecode(generator, ids, newTokens); HybridDecode(int8, ids, newTokens); HybridDecode(tensors, ids, newTokens); llamaF32.Decode(ids, newTokens); llamaQ8.Decode(ids, newTokens); }
                        for (int r = 0; r < reps; r++)
                        {
                            h.Add(HybridDecode(generator, ids, newTokens));
                            h8.Add(HybridDecode(int8, ids, newTokens));
                            ht.Add(HybridDecode(tensors, ids, newTokens));
                            lf.Add(llamaF32.Decode(ids, newTokens));
                            lq.Add(llamaQ8.Decode(ids, newTokens));
                        }
                        var point = new Point(preset, parameters, p, t, Median(h), Median(h8), Median(ht), Median(lf), Median(lq));
                        points.Add(point);
                        Console.WriteLine($"  {preset} prompt {p} threads {t}: HybridSharp fp32 {point.Hybrid:F0}, int8 {point.HybridInt8:F0}, " +
                            $"tensor path {point.HybridTensors:F0}; llama.cpp f32 {point.LlamaF32:F0}, q8_0 {point.LlamaQ8:F0} tok/s");
                    }
                }
            }
        }
        finally { Directory.Delete(root, recursive: true); }

        Console.WriteLine();
        Console.WriteLine("| model | params | prompt | threads | HybridSharp fp32 tok/s | LLamaSharp f32 tok/s | ratio | HybridSharp int8 tok/s | LLamaSharp Q8_0 tok/s | ratio | tensor path tok/s |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var x in points)
            Console.WriteLine($"| {x.Model} | {x.Parameters / 1e6:F1}M | {x.Prompt} | {x.Threads} | {x.Hybrid:N0} | {x.LlamaF32:N0} | {x.Hybrid / x.LlamaF32:F2}× | " +
                $"{x.HybridInt8:N0} | {x.LlamaQ8:N0} | {x.HybridInt8 / x.LlamaQ8:F2}× | {x.HybridTensors:N0} |");
        Console.WriteLine($"min decode ratio vs LLamaSharp: fp32 {points.Min(x => x.Hybrid / x.LlamaF32):F2}, int8 vs q8_0 {points.Min(x => x.HybridInt8 / x.LlamaQ8):F2}");
    }

    /// <summary>A prompt of <paramref name="length"/> byte tokens after BOS (printable text, the same for both engines).</summary>
    private static int[] PromptIds(int length)
    {
        var text = string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", length / 45 + 1))[..(length - 1)];
        var tokenizer = new ByteTokenizer();
        return [tokenizer.BosId, .. tokenizer.Encode(text)];
    }

    /// <summary>Decode tokens/s of <paramref name="generator"/>: (N − 1) ÷ (t(N) − t(1)), so prefill cancels out.</summary>
    private static double HybridDecode(TextGenerator generator, int[] prompt, int newTokens)
    {
        double Time(int n)
        {
            var options = new GenerationOptions { MaxNewTokens = n, StopTokens = [], Sampling = new SamplingOptions { Temperature = 0 }, AddBos = false };
            var sw = Stopwatch.StartNew();
            var r = generator.GenerateIds([prompt], options)[0];
            if (r.GeneratedTokens != n) throw new InvalidOperationException($"generated {r.GeneratedTokens} tokens, expected {n}");
            return sw.Elapsed.TotalSeconds;
        }
        double one = Time(1);
        return (newTokens - 1) / Math.Max(Time(newTokens) - one, 1e-9);
    }

    private static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);

    /// <summary>One GGUF model in llama.cpp: batched prefill, then greedy one-token decode steps.</summary>
    private sealed class LlamaRunner : IDisposable
    {
        private readonly LLamaWeights _weights;
        private readonly LLamaContext _context;

        public LlamaRunner(string path, int threads, int context)
        {
            var p = new ModelParams(path)
            {
                ContextSize = (uint)context, BatchSize = (uint)context, UBatchSize = (uint)context, GpuLayerCount = 0, Threads = threads,
                FlashAttention = false, TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32,
            };
            _weights = LLamaWeights.LoadFromFile(p);
            _context = _weights.CreateContext(p);
        }

        /// <summary>Decode tokens/s of <paramref name="newTokens"/> greedy steps after the prompt (prefill not timed).</summary>
        public double Decode(int[] prompt, int newTokens)
        {
            _context.NativeHandle.MemoryClear();
            var batch = new LLamaBatch();
            for (int i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
            if (_context.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp prefill failed");
            int next = ArgMax(_context.NativeHandle.GetLogitsIth(batch.TokenCount - 1));
            var sw = Stopwatch.StartNew();
            for (int k = 0; k < newTokens; k++)
            {
                batch.Clear();
                batch.Add(next, prompt.Length + k, LLamaSeqId.Zero, true);
                if (_context.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed");
                next = ArgMax(_context.NativeHandle.GetLogitsIth(0));
            }
            return newTokens / sw.Elapsed.TotalSeconds;
        }

        private static int ArgMax(Span<float> logits)
        {
            int best = 0;
            for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
            return best;
        }

        public void Dispose()
        {
            _context.Dispose();
            _weights.Dispose();
        }
    }
}
