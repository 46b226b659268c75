using HybridSharp.Config;
using HybridSharp.Models;
using HybridSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>Per-layer timing of one SSD layer against one attention layer at equal tokens (where training time goes).</summary>
public static class MixerBench
{
    public static void Run(int reps, int[] lengths)
    {
        var cfg = Presets.Get("transxssm");
        Console.WriteLine("| T | batch | attention layer fwd / fwd+bwd (ms) | SSD layer fwd / fwd+bwd (ms) |");
        Console.WriteLine("|---|---|---|---|");
        foreach (int t in lengths)
        {
            int batch = Math.Max(1, 4096 / t);
            var c = cfg.Clone();
            c.MaxPositionEmbeddings = Math.Max(c.MaxPositionEmbeddings, t);
            using var attn = new DecoderLayer(c, 7);
            using var ssd = new DecoderLayer(c, 0);
            var rope = new RotaryEmbedding(c.HeadDim, c.RopeTheta);
            using var x = randn(batch, t, c.HiddenSize).requires_grad_(true);
            using var pos = arange(t).unsqueeze(0).expand(batch, t);
            var (cos, sin) = rope.Compute(pos, ScalarType.Float32);
            using var mask = KeyMask.Build(t, 0, null, x.device);
            string Time(DecoderLayer layer)
            {
                double f = Bench.MedianSeconds(() => { using var _ = no_grad(); layer.Forward(x, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask }); }, reps, 1);
                double fb = Bench.MedianSeconds(() => layer.Forward(x, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask }).sum().backward(), reps, 1);
                return $"{f * 1000:F0} / {fb * 1000:F0}";
            }
            Console.WriteLine($"| {t} | {batch} | {Time(attn)} | {Time(ssd)} |");
        }
    }
}
