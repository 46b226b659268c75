using System.Diagnostics;
using HybridSharp.Config;
using HybridSharp.Models;
using HybridSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Caching;

namespace HybridSharp.Bench;

/// <summary>
/// Where a batch-1 decode token's time goes: the whole step against the sum of its pieces (embedding + rotary table,
/// each decoder layer, final norm + head + argmax), after a T-token prefill. Per layer, a standalone RMSNorm and
/// SwiGLU of the same width are timed too, so a layer's mixer cost is what is left.
/// </summary>
public static class DecodeProfile
{
    public static void Run(string[] presets, int t, int tokens, int reps)
    {
        using var _ = inference_mode();
        foreach (var preset in presets)
        {
            var cfg = Presets.Get(preset);
            using var m = new CausalLM(cfg, 1);
            m.eval();
            var whole = new List<double>();
            var parts = new Dictionary<string, List<double>>();
            for (int rep = 0; rep < reps; rep++)
            {
                using var scope = NewDisposeScope();
                using var cache = m.NewCache(1, t + 2 * tokens + 1);
                m.Forward(randint(0, cfg.VocabSize, [1, t]), cache);
                var next = tensor(new long[] { 1 }).reshape(1, 1);
                var sw = Stopwatch.StartNew();
                for (int k = 0; k < tokens; k++)
                {
                    using var step = NewDisposeScope();
                    next = m.Forward(next, cache).argmax(-1).MoveToOuterDisposeScope();
                }
                whole.Add(sw.Elapsed.TotalMicroseconds / tokens);

                // The same steps, timed piece by piece (same cache, so the context keeps growing by `tokens`).
                var acc = new Dictionary<string, double>();
                void Add(string key, double us) => acc[key] = acc.GetValueOrDefault(key) + us;
                for (int k = 0; k < tokens; k++)
                {
                    using var step = NewDisposeScope();
                    var clock = Stopwatch.StartNew();
                    long past = cache.Length;
                    var positions = arange(past, past + 1, dtype: ScalarType.Int64).unsqueeze(0);
                    var h = m.Embed(next);
                    var (cos, sin) = m.Rotary.Compute(positions, h.dtype);
                    using var mask = KeyMask.Build(1, past, null, h.device);
                    cache.MarkValid(null, 1);
                    Add("embed + rotary + mask", clock.Elapsed.TotalMicroseconds);
                    foreach (var layer in m.Layers)
                    {
                        clock.Restart();
                        h = layer.Forward(h, new MixerInputs { Cos = cos, Sin = sin, KeyMask = mask, Cache = cache });
                        Add($"layer {layer.Index} ({cfg.LayerTypes?[layer.Index] ?? "attention"})", clock.Elapsed.TotalMicroseconds);
                    }
                    clock.Restart();
                    next = m.Head(m.FinalNorm(h)).argmax(-1).MoveToOuterDisposeScope();
                    cache.Advance(1);
                    Add("final norm + head + argmax", clock.Elapsed.TotalMicroseconds);
                }
                foreach (var (key, us) in acc) { if (!parts.ContainsKey(key)) parts[key] = []; parts[key].Add(us / tokens); }
            }

            var norm = new RmsNorm(cfg.HiddenSize, cfg.RmsNormEps);
            var mlp = new SwiGluMlp(cfg);
            var x = randn(1, 1, cfg.HiddenSize);
            double normUs = PerCall(() => norm.forward(x), reps), mlpUs = PerCall(() => mlp.forward(x), reps);
            Console.WriteLine($"\n{preset}, context {t}, {tokens} tokens, medians of {reps}: whole step {Median(whole):F0} µs/token");
            Console.WriteLine("| piece | µs/token |");
            Console.WriteLine("|---|---|");
            foreach (var (key, v) in parts) Console.WriteLine($"| {key} | {Median(v):F0} |");
            Console.WriteLine($"| sum of pieces | {parts.Values.Sum(Median):F0} |");
            Console.WriteLine($"| (standalone RMSNorm d {cfg.HiddenSize}) | {normUs:F1} |");
            Console.WriteLine($"| (standalone SwiGLU {cfg.HiddenSize}→{cfg.IntermediateSize}) | {mlpUs:F1} |");
        }
    }

    private static double PerCall(Func<Tensor> f, int reps)
    {
        var s = new List<double>();
        for (int r = 0; r <= reps; r++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 500; i++) using (NewDisposeScope()) f();
            if (r > 0) s.Add(sw.Elapsed.TotalMicroseconds / 500);
        }
        return Median(s);
    }

    private static double Median(List<double> v)
    {
        var s = v.OrderBy(x => x).ToList();
        return s[s.Count / 2];
    }
}

/// <summary>The SSD decode step of TransXSSM-S (H 2, P 128, N 128, G 2, no conv/gate), op by op.</summary>
public static class SsdStepOps
{
    public static void Run()
    {
        using var _ = inference_mode();
        long d = 256, h = 2, p = 128, n = 128, g = 2, r = 1;
        var w = randn(770, d); var wo = randn(d, d); var x = randn(1, 1, d);
        var dtBias = randn(h); var aLog = randn(h); var dP = randn(h);
        var cos = randn(1, 1, n); var sin = randn(1, 1, n);
        var state = zeros(1, h, p, n);
        Tensor proj = nn.functional.linear(x, w);
        void T(string name, Func<Tensor> f)
        {
            var s = new List<double>();
            for (int k = 0; k < 4; k++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < 2000; i++) using (NewDisposeScope()) f();
                if (k > 0) s.Add(sw.Elapsed.TotalMicroseconds / 2000);
            }
            s.Sort();
            Console.WriteLine($"| {name} | {s[1]:F1} |");
        }
        Console.WriteLine("\n| SSD decode op | µs |\n|---|---|");
        T("in_proj linear 256→770", () => nn.functional.linear(x, w));
        T("narrow + reshape x", () => proj.narrow(-1, 0, 256).reshape(1, g, r, p, 1));
        T("narrow + reshape bc", () => proj.narrow(-1, 256, 512).reshape(1, 2 * g, n));
        var bc = proj.narrow(-1, 256, 512).reshape(1, 2 * g, n);
        T("rotate bc", () => RotaryEmbedding.Rotate(bc, cos, sin));
        T("softplus(dt + bias)", () => nn.functional.softplus(proj.narrow(-1, 768, h).reshape(1, h).add(dtBias)));
        var dt5 = randn([1, g, r, 1, 1]);
        T("decay = exp(dt·(−exp A_log))", () => dt5.mul(aLog.exp().neg_().view(1, g, r, 1, 1)).exp_());
        var decay = dt5.mul(aLog.exp().neg_().view(1, g, r, 1, 1)).exp_();
        var xs = proj.narrow(-1, 0, 256).reshape(1, g, r, p, 1);
        var st = state.view(1, g, r, p, n);
        T("state.mul_(decay)", () => st.mul_(decay));
        T("x·dt", () => xs.mul(dt5));
        var bB = bc.narrow(1, 0, g).reshape(1, g, 1, 1, n);
        var xd = xs.mul(dt5);
        T("state.addcmul_(x·dt, B)", () => st.addcmul_(xd, bB, 1));
        var cC = bc.narrow(1, g, g).reshape(1, g, 1, n, 1);
        T("y = state @ C", () => st.matmul(cC));
        var st3 = state.view(g, p, n); var c3 = bc.narrow(1, g, g).reshape(g, n, 1);
        T("y = bmm(state[g,p,n], C[g,n,1])", () => st3.bmm(c3));
        T("y = matmul 3D", () => st3.matmul(c3));
        T("y = (state * C).sum(-1)", () => st.mul(bc.narrow(1, g, g).reshape(1, g, 1, 1, n)).sum(-1));
        var cRow = bc.narrow(1, g, g).reshape(g, 1, n);
        T("y = bmm(C[g,1,n], state^T)", () => cRow.bmm(st3.transpose(1, 2)));
        T("y = einsum", () => einsum("gpn,gn->gp", st3, bc.narrow(1, g, g).reshape(g, n)));
        var sinS = cat([sin.narrow(-1, 0, n / 2).neg(), sin.narrow(-1, n / 2, n / 2)], -1);
        T("rotate via roll", () => bc.mul(cos).add_(bc.roll(n / 2, -1).mul_(sinS)));
        T("rotate via roll addcmul", () => bc.mul(cos).addcmul_(bc.roll(n / 2, -1), sinS, 1));
        var y = st.matmul(cC);
        T("y.addcmul_(x, D)", () => y.addcmul_(xs, dP.view(1, g, r, 1, 1), 1));
        var yv = y.view(1, 1, 256);
        T("out_proj 256→256", () => nn.functional.linear(yv, wo));
        T("(empty dispose scope)", () => x);
        var mixer = new SsdMixer(Presets.Get("transxssm"));
        using var cache = new HybridSharp.Caching.InferenceCache(1, 10, 8);
        T("SsdMixer.Forward (decode step)", () => mixer.Forward(x, new MixerInputs { Cos = cos, Sin = sin, Cache = cache }));
        T("x.shape[0]", () => { long q = x.shape[0]; return x; });
        var mlps = Enumerable.Range(0, 16).Select(_ => new SwiGluMlp(256, 512, false, "silu")).ToArray();
        int which = 0;
        T("SwiGLU 256→512, same weights", () => mlps[0].forward(x));
        T("SwiGLU 256→512, 16 weight sets cycled (cold)", () => mlps[which++ % 16].forward(x));
        T("x.size(0)", () => { long q = x.size(0); return x; });
        T("x.size(-1)", () => { long q = x.size(-1); return x; });
        T("x.dim()", () => { long q = x.dim(); return x; });
        T("rotate roll+neg_ half", () => { var rr = bc.roll(n / 2, -1).mul_(sin); rr.narrow(-1, 0, n / 2).neg_(); return bc.mul(cos).add_(rr); });
        T("x.dtype", () => { var q = x.dtype; return x; });
        T("is_grad_enabled()", () => { bool q = is_grad_enabled(); return x; });
    }
}

/// <summary>Batched matrix × vector (h·c) against row vector × transposed matrix (cᵀ·hᵀ), forward and forward + backward.</summary>
public static class MatVecProbe
{
    public static void Run()
    {
        foreach (var shape in new long[][] { [1, 2, 128, 128], [32, 8, 64, 64], [8, 32, 256, 16], [2, 1, 512, 16] })
        {
            long n = shape[^1];
            var h = randn(shape, requires_grad: true);
            var cshape = shape.ToArray(); cshape[^2] = n; cshape[^1] = 1;
            var c = randn(cshape, requires_grad: true);
            double Time(Func<Tensor> f, bool backward)
            {
                var s = new List<double>();
                for (int k = 0; k < 4; k++)
                {
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < 50; i++)
                        using (NewDisposeScope())
                        {
                            if (backward) f().sum().backward();
                            else using (no_grad()) f();
                        }
                    if (k > 0) s.Add(sw.Elapsed.TotalMicroseconds / 50);
                }
                s.Sort();
                return s[1];
            }
            Func<Tensor> mv = () => h.matmul(c);
            Func<Tensor> vm = () => c.transpose(-1, -2).matmul(h.transpose(-1, -2)).transpose(-1, -2);
            Console.WriteLine($"| {string.Join("×", shape)} | h·c {Time(mv, false):F1} µs | cᵀ·hᵀ {Time(vm, false):F1} µs | fwd+bwd h·c {Time(mv, true):F1} µs | cᵀ·hᵀ {Time(vm, true):F1} µs |");
        }
    }
}
