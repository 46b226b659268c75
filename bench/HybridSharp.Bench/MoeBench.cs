using HybridSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>
/// CDMoE (product-key retrieval of single-neuron experts) against a top-k softmax MoE of SwiGLU experts at equal
/// active parameters per token, forward and forward+backward, for E = 1024, 4096, 16384. The MoE baseline runs in
/// two dispatch modes: a per-expert loop (find each expert's tokens, gather, compute, scatter) and grouped
/// (sort token-slots by expert once, one contiguous segment per expert).
/// </summary>
public static class MoeBench
{
    public static void Run(int reps, int[] expertCounts)
    {
        const int d = 256, tokens = 2048, k = 8, sharedI = 256;
        // Active parameters per token: CDMoE = shared SwiGLU 3·d·I + router 2·√E·d + k·2·d;
        // MoE = router E·d + k·3·d·Ie. Ie is chosen so the expert part matches the CDMoE's shared + retrieved part.
        Console.WriteLine($"tokens {tokens} (batch 8 × 256), d {d}, top-k {k}; CDMoE shared SwiGLU {sharedI}; medians of {reps}");
        Console.WriteLine();
        Console.WriteLine("| E | MoE expert size Ie | CDMoE fwd / fwd+bwd (ms) | MoE grouped fwd / fwd+bwd (ms) | MoE loop fwd / fwd+bwd (ms) | CDMoE speed-up vs loop (fwd / fwd+bwd) | vs grouped (fwd / fwd+bwd) |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        // One untimed pass over the first size warms the allocator and the thread pool, so the first row is not slower
        // for reasons that have nothing to do with the layer (each timing below also has its own warm-up calls).
        WarmUp(d, sharedI, expertCounts[0], k, tokens);
        foreach (int e in expertCounts)
        {
            int ie = Math.Max(1, (int)Math.Round((3.0 * d * sharedI + 2.0 * k * d) / (3.0 * k * d)));
            using var cd = new CrossDomainMoe(d, sharedI, e, k);
            using var moe = new MixtureOfExperts(d, ie, e, k);
            using var x = randn(tokens, d).requires_grad_(true);
            (double F, double FB) Time(Func<Tensor> f)
            {
                double fwd = Bench.MedianSeconds(() => { using var _ = no_grad(); f(); }, reps, 3);
                double fb = Bench.MedianSeconds(() => f().sum().backward(), reps, 3);
                return (fwd * 1000, fb * 1000);
            }
            var c = Time(() => cd.forward(x));
            var g = Time(() => moe.Forward(x, MoeDispatch.Grouped));
            var l = Time(() => moe.Forward(x, MoeDispatch.Loop));
            Console.WriteLine($"| {e} | {ie} | {c.F:F1} / {c.FB:F1} | {g.F:F1} / {g.FB:F1} | {l.F:F1} / {l.FB:F1} | {l.F / c.F:F1}× / {l.FB / c.FB:F1}× | {g.F / c.F:F1}× / {g.FB / c.FB:F1}× |");
        }
    }

    private static void WarmUp(int d, int sharedI, int experts, int k, int tokens)
    {
        using var cd = new CrossDomainMoe(d, sharedI, experts, k);
        using var x = randn(tokens, d).requires_grad_(true);
        for (int i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            cd.forward(x).sum().backward();
        }
    }
}
