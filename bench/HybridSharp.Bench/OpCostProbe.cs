using System.Diagnostics;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>
/// Cost of one small tensor op as seen from C# (P/Invoke + libtorch dispatch + output allocation + dispose-scope
/// bookkeeping): the unit that bounds batch-1 decode, where every layer issues dozens of ops on [1, 1, d] tensors.
/// </summary>
public static class OpCostProbe
{
    public static void Run(int reps)
    {
        var a = randn(1, 1, 256);
        var b = randn(1, 1, 256);
        var w = randn(512, 256);
        var big = randn(1, 1, 4096, 128);
        Rope(reps);
        using var _ = inference_mode();
        Report("add [1,1,256]", reps, () => a.add(b));
        Report("mul_ in place [1,1,256]", reps, () => a.mul_(1.0));
        Report("view [1,1,256]", reps, () => a.view(1, 256));
        Report("linear 256→512", reps, () => nn.functional.linear(a, w));
        Report("silu [1,1,512]", reps, () => nn.functional.silu(nn.functional.linear(a, w)), opsPerCall: 2);
        Report("mean(-1, keepdim)", reps, () => a.mean([-1], keepdim: true));
        Report("expand+reshape KV [1,1,4096,128]→2 heads (copy)", reps, () => big.unsqueeze(2).expand(1, 1, 2, 4096, 128).reshape(1, 2, 4096, 128), opsPerCall: 3);
    }

    /// <summary>RoPE forward + backward at a training shape, the rotate_half form against the in-place half-update form.</summary>
    public static void Rope(int reps)
    {
        var x = randn(8, 2, 512, 128, requires_grad: true);
        var cos = randn(8, 1, 512, 128);
        var sin = randn(8, 1, 512, 128);
        for (int r = 0; r < reps; r++)
        {
            var a = Time(() => x.mul(cos).add_(HybridSharp.Modules.RotaryEmbedding.RotateHalf(x).mul_(sin)).sum().backward());
            var b = Time(() => HybridSharp.Modules.RotaryEmbedding.Rotate(x, cos, sin).sum().backward());
            Console.WriteLine($"| rope fwd+bwd [8,2,512,128] | rotate_half {a:F2} ms | in-place halves {b:F2} ms |");
        }
    }

    private static double Time(Action f)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 20; i++) using (NewDisposeScope()) f();
        return sw.Elapsed.TotalMilliseconds / 20;
    }

    private static void Report(string name, int reps, Func<Tensor> op, int opsPerCall = 1)
    {
        const int n = 2000;
        var samples = new List<double>();
        for (int r = 0; r < reps + 1; r++)
        {
            var sw = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
                for (int i = 0; i < n; i++) op();
            if (r > 0) samples.Add(sw.Elapsed.TotalMicroseconds / n / opsPerCall);
        }
        samples.Sort();
        Console.WriteLine($"| {name} | {samples[samples.Count / 2]:F2} µs/op |");
    }
}
