using HybridSharp.Config;
using HybridSharp.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>
/// Training throughput of Mamba-1 stacks against an SSD (Mamba-2) stack at equal width and depth: d 256, 4 layers,
/// mixer only (no FFN), byte vocabulary, fp32. Stacks: SSD as in Mamba2-S (expand 2, 8 heads × 64, N 64, chunk 64);
/// Mamba-1 as in OTCE-S (expand 1, N 64, R 16, RoPE on B/C) and classic Mamba-1 (expand 2, N 16, no RoPE), both with
/// the two-level chunked scan (chunk 16). One training step = forward + backward + AdamW on batch × T tokens; median of
/// <c>reps</c> steps after one warm-up, models alternated within each repetition.
/// </summary>
public static class Mamba1Bench
{
    private static ModelConfig Stack(string mixer, int layers = 4, int d = 256)
    {
        var cfg = new ModelConfig
        {
            ModelType = "hybridsharp", VocabSize = 261, HiddenSize = d, IntermediateSize = 512, NumHiddenLayers = layers,
            NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDimOverride = 128, MaxPositionEmbeddings = 4096, RmsNormEps = 1e-5,
            TieWordEmbeddings = true, MlpTypes = LayerPattern.Uniform(layers, FfnTypes.None),
        };
        switch (mixer)
        {
            case "ssd":
                cfg.LayerTypes = LayerPattern.Uniform(layers, MixerTypes.Ssd);
                cfg.Ssd = new SsdConfig { Expand = 2, HeadDim = 64, StateSize = 64, NGroups = 1, ConvKernel = 4, Gated = true, UseD = true, ChunkSize = 64 };
                break;
            case "mamba1-otce":
                cfg.LayerTypes = LayerPattern.Uniform(layers, MixerTypes.Mamba1);
                cfg.Mamba1 = new Mamba1Config { Expand = 1, StateSize = 64, DtRank = 16, Rope = true };
                break;
            case "mamba1-classic":
                cfg.LayerTypes = LayerPattern.Uniform(layers, MixerTypes.Mamba1);
                cfg.Mamba1 = new Mamba1Config { Expand = 2, StateSize = 16, Rope = false };
                break;
            default:
                throw new ArgumentException($"unknown stack '{mixer}'");
        }
        cfg.Validate();
        return cfg;
    }

    public static void Run(int reps, int[] lengths, int batch)
    {
        string[] stacks = ["ssd", "mamba1-otce", "mamba1-classic"];
        Console.WriteLine($"d 256, 4 layers, mixer only; batch {batch}; training step = fwd + bwd + AdamW; median of {reps}");
        foreach (var s in stacks)
        {
            var c = Stack(s);
            Console.WriteLine($"  {s}: {ModelInfo.For(c, 1).NonEmbeddingParameters:N0} non-embedding params" +
                (c.Mamba1 is { } m ? $", d_in {m.InnerSize(256)}, N {m.StateSize}, chunk {m.ChunkSize}" : $", d_in 512, 8 heads × 64, N 64, chunk 64"));
        }
        Console.WriteLine();
        Console.WriteLine("| T | " + string.Join(" | ", stacks.Select(s => $"{s} train tok/s")) + " | " +
                          string.Join(" | ", stacks.Skip(1).Select(s => $"{s} / ssd")) + " |");
        Console.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---|", 2 * stacks.Length - 1)));
        foreach (int t in lengths)
        {
            var models = stacks.Select(s => new CausalLM(Stack(s), seed: 1)).ToArray();
            var opts = models.Select(m => optim.AdamW(m.parameters(), 1e-4)).ToArray();
            using var x = randint(0, 261, [batch, t]);
            var times = models.Select(_ => new List<double>()).ToArray();
            for (int rep = 0; rep < reps + 1; rep++)
            {
                for (int i = 0; i < models.Length; i++)
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
            var tps = times.Select(ts => batch * t / ts.Order().ElementAt(ts.Count / 2)).ToArray();
            Console.WriteLine($"| {t} | " + string.Join(" | ", tps.Select(v => $"{v:N0}")) + " | " +
                              string.Join(" | ", tps.Skip(1).Select(v => $"{v / tps[0]:F2}×")) + " |");
            foreach (var o in opts) o.Dispose();
            foreach (var m in models) m.Dispose();
        }
    }
}
