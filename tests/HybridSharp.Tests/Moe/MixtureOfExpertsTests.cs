using HybridSharp.IO.Safetensors;
using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using static HybridSharp.Tests.Moe.MoeTestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Moe;

/// <summary>Top-k MoE baseline: grouped ≡ loop ≡ per-token reference, checkpoint names, aux statistics.</summary>
[Collection("Torch")]
public sealed class MixtureOfExpertsTests
{
    private const int D = 6, Ie = 4, E = 5;

    /// <summary>
    /// A parent module holding the MoE under "mlp." through a base-typed field, as a decoder layer would
    /// (<c>nn.Module&lt;Tensor, Tensor&gt;? mlp</c>), dispatching through <see cref="IMoeLayer"/>.
    /// </summary>
    private sealed class Holder : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        private readonly nn.Module<Tensor, Tensor> mlp;
#pragma warning restore IDE1006
        public Holder(MixtureOfExperts m) : base("Holder") { mlp = m; RegisterComponents(); }
        public MixtureOfExperts Mlp => (MixtureOfExperts)mlp;
        public MoeRoutingCollector? Routing { get; set; }
        public override Tensor forward(Tensor x) => mlp is IMoeLayer moe ? moe.Forward(x, Routing) : mlp.forward(x);
    }

    private static MixtureOfExperts NewMoe(int k, bool norm = false, ScalarType dtype = ScalarType.Float64, long seed = 9)
    {
        manual_seed(seed);
        var m = new MixtureOfExperts(D, Ie, E, k, normTopkProb: norm);
        if (dtype != ScalarType.Float32) m.to(dtype);
        return m;
    }

    [Fact]
    public void ParameterNamesAndShapes()
    {
        using var scope = NewDisposeScope();
        var m = new MixtureOfExperts(D, Ie, E, 2);
        var shapes = m.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(new[] { "experts.down_proj.weight", "experts.gate_proj.weight", "experts.up_proj.weight", "router.weight" },
            shapes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { E, D }, shapes["router.weight"]);
        Assert.Equal(new long[] { E, Ie, D }, shapes["experts.gate_proj.weight"]);
        Assert.Equal(new long[] { E, Ie, D }, shapes["experts.up_proj.weight"]);
        Assert.Equal(new long[] { E, D, Ie }, shapes["experts.down_proj.weight"]);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    [InlineData(E, false)]
    public void GroupedEqualsLoopEqualsReference(int k, bool norm)
    {
        using var scope = NewDisposeScope();
        var m = NewMoe(k, norm);
        manual_seed(17);
        var x = randn(3, 7, D, ScalarType.Float64);
        var yg = m.Forward(x, MoeDispatch.Grouped);
        var yl = m.Forward(x, MoeDispatch.Loop);
        Assert.Equal(x.shape, yg.shape);
        Assert.True(MaxAbs(yg, yl) < 1e-12);

        // Per-token reference straight from
        var (wg, wu, wd) = m.ExpertWeights;
        var xf = x.reshape(-1, D);
        var probs = xf.matmul(Param(m, "router.weight").t()).softmax(-1);
        var reference = zeros_like(xf);
        for (int n = 0; n < xf.shape[0]; n++)
        {
            var (w, e) = probs[n].topk(k);
            if (norm) w = w.div(w.sum());
            var ids = Longs(e);
            for (int j = 0; j < k; j++)
            {
                var h = nn.functional.silu(wg[ids[j]].matmul(xf[n])).mul(wu[ids[j]].matmul(xf[n]));
                reference[n] = reference[n].add(wd[ids[j]].matmul(h).mul(w[j]));
            }
        }
        Assert.True(MaxAbs(yg.reshape(-1, D), reference) < 1e-12);
    }

    [Fact]
    public void GroupedEqualsLoopInFloat32WithGradients()
    {
        using var scope = NewDisposeScope();
        var m = NewMoe(2, dtype: ScalarType.Float32);
        manual_seed(18);
        var x = randn(4, 16, D);
        var proj = randn(4, 16, D);
        var grads = new List<Dictionary<string, Tensor>>();
        var outs = new List<Tensor>();
        foreach (var dispatch in new[] { MoeDispatch.Grouped, MoeDispatch.Loop })
        {
            m.zero_grad();
            var y = m.Forward(x, dispatch);
            y.mul(proj).sum().backward();
            outs.Add(y.detach());
            grads.Add(m.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }
        Assert.True(MaxAbs(outs[0], outs[1]) <= 1e-5);
        foreach (var name in grads[0].Keys)
            Assert.True(MaxAbs(grads[0][name], grads[1][name]) <= 1e-5, name);
    }

    [Fact]
    public void CheckpointNamesRoundTrip()
    {
        using var scope = NewDisposeScope();
        var a = new Holder(NewMoe(2, dtype: ScalarType.Float32, seed: 1));
        var b = new Holder(NewMoe(2, dtype: ScalarType.Float32, seed: 2));
        Assert.Equal(["mlp."], MixtureOfExperts.Prefixes(a));

        var ckpt = MixtureOfExperts.ToCheckpointNames(a, StateDictLoader.Export(a));
        var expectedNames = new List<string> { "mlp.router.weight" };
        for (int j = 0; j < E; j++)
            foreach (var p in new[] { "gate_proj", "up_proj", "down_proj" }) expectedNames.Add($"mlp.experts.{j}.{p}.weight");
        Assert.Equal(expectedNames.Order(StringComparer.Ordinal), ckpt.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { Ie, D }, ckpt["mlp.experts.3.gate_proj.weight"].shape);
        Assert.Equal(new long[] { D, Ie }, ckpt["mlp.experts.3.down_proj.weight"].shape);
        Assert.True(MaxAbs(ckpt["mlp.experts.3.up_proj.weight"], a.Mlp.ExpertWeights.Up[3]) == 0);

        StateDictLoader.Load(b, MixtureOfExperts.FromCheckpointNames(b, ckpt), strict: true);
        foreach (var (name, p) in a.named_parameters())
            Assert.True(MaxAbs(p, Param(b, name)) == 0, name);
        var x = randn(3, D);
        using (var collector = new MoeRoutingCollector())
        {
            b.Routing = collector;
            Assert.True(MaxAbs(a.forward(x), b.forward(x)) == 0);
            Assert.Equal(1, collector.Count);
        }

        // An incomplete expert set is left alone, so the strict loader reports it.
        ckpt.Remove("mlp.experts.4.gate_proj.weight");
        Assert.Throws<CheckpointMismatchException>(() => StateDictLoader.Load(b, MixtureOfExperts.FromCheckpointNames(b, ckpt), strict: true));
    }

    [Fact]
    public void RoutingStatisticsFeedTheAuxLoss()
    {
        using var scope = NewDisposeScope();
        var m = NewMoe(2);
        var x = randn(10, D, ScalarType.Float64);
        using var collector = new MoeRoutingCollector();
        m.Forward(x, collector);
        var (probs, _, e) = m.Route(x);
        Assert.Equal(MoeAuxLoss.Switch(probs, e).item<float>(), collector.AuxLoss().item<float>(), 6);
        Assert.Equal(20.0, collector.Stats[0].Counts.sum().item<float>());
    }
}
