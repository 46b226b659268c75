using HybridSharp.Modules;
using Xunit;
using static HybridSharp.Tests.Moe.MoeTestUtil;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Mamba1;

/// <summary>OTCE MoE (expansive and cohesive) and the OTCE MLP: names, routing, outputs against a per-token reference, gradients.</summary>
[Collection("Torch")]
public sealed class OtceMoeTests
{
    private const int D = 8, I = 12, E = 4;

    private static OtceMoe NewMoe(bool expansive, int k = 1, long seed = 5)
    {
        manual_seed(seed);
        var m = new OtceMoe(D, I, E, k, expansive);
        m.to(ScalarType.Float64);
        return m;
    }

    private static Tensor Lin(OtceMoe m, string name, Tensor x) => nn.functional.linear(x, Param(m, name + ".weight"));

    /// <summary>Expert j of the spec applied to one token x [1, d], from the parameters.</summary>
    private static Tensor ReferenceExpert(OtceMoe m, int j, Tensor x, bool expansive)
    {
        string e = $"experts.{j}.";
        if (expansive)
        {
            var s = Lin(m, "shared_down_proj", Lin(m, "shared_up_proj", x).tanh().mul(nn.functional.silu(Lin(m, "shared_gate_proj", x))));
            var h = s.mul(Lin(m, e + "shared_expert_gate", s).sigmoid());
            return Lin(m, e + "down_proj", Lin(m, e + "up_proj", h).tanh().mul(nn.functional.silu(Lin(m, e + "gate_proj", h))));
        }
        return Lin(m, e + "down_proj", Lin(m, "shared_up_proj", x).tanh().mul(nn.functional.silu(Lin(m, e + "gate_proj", x))));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ParameterNamesAndShapesFollowTheConvention(bool expansive)
    {
        using var m = new OtceMoe(D, I, E, 1, expansive);
        var shapes = m.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var expected = new Dictionary<string, long[]> { ["router.weight"] = [E, D] };
        if (expansive)
        {
            expected["shared_gate_proj.weight"] = [I, D];
            expected["shared_up_proj.weight"] = [I, D];
            expected["shared_down_proj.weight"] = [D, I];
        }
        else
        {
            expected["shared_up_proj.weight"] = [I / 2, D];
        }
        for (int j = 0; j < E; j++)
        {
            expected[$"experts.{j}.gate_proj.weight"] = [I / 2, D];
            expected[$"experts.{j}.down_proj.weight"] = [D, I / 2];
            if (expansive)
            {
                expected[$"experts.{j}.up_proj.weight"] = [I / 2, D];
                expected[$"experts.{j}.shared_expert_gate.weight"] = [1, D];
            }
        }
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), shapes.Keys.Order(StringComparer.Ordinal));
        foreach (var (k, s) in expected) Assert.Equal(s, shapes[k]);
    }

    [Theory]
    [InlineData(true, 1, OtceMoeDispatch.Sparse)]
    [InlineData(false, 1, OtceMoeDispatch.Sparse)]
    [InlineData(true, 2, OtceMoeDispatch.Sparse)]
    [InlineData(false, 2, OtceMoeDispatch.Sparse)]
    [InlineData(true, 1, OtceMoeDispatch.Dense)]
    [InlineData(false, 1, OtceMoeDispatch.Dense)]
    [InlineData(true, 2, OtceMoeDispatch.Dense)]
    [InlineData(false, 2, OtceMoeDispatch.Dense)]
    public void OutputIsTheProbabilityWeightedSumOfTheChosenExperts(bool expansive, int k, OtceMoeDispatch dispatch)
    {
        using var m = NewMoe(expansive, k);
        m.Dispatch = dispatch;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(3);
        var x = randn([2, 5, D], ScalarType.Float64);
        var y = m.forward(x);
        Assert.Equal(x.shape, y.shape);
        var flat = x.reshape(-1, D);
        var (probs, w, e) = m.Route(flat);
        Assert.Equal(new long[] { 10, k }, e.shape);
        // Weights are the selected probabilities, not renormalised: for k = 1 each is the row maximum (< 1).
        Assert.True(MaxAbs(w.select(1, 0), probs.max(1).values) == 0);
        Assert.True(Doubles(w.sum(1)).All(s => s < 1));
        var ids = Longs(e);
        var yFlat = y.reshape(-1, D);
        for (int n = 0; n < 10; n++)
        {
            var xn = flat.narrow(0, n, 1);
            var expected = zeros([1, D], ScalarType.Float64);
            for (int s = 0; s < k; s++)
                expected = expected.add(ReferenceExpert(m, (int)ids[n * k + s], xn, expansive).mul(w[n, s]));
            Assert.True(MaxAbs(yFlat.narrow(0, n, 1), expected) <= 1e-12, $"token {n}");
        }
    }

    [Theory]
    [InlineData(true, OtceMoeDispatch.Auto)]
    [InlineData(false, OtceMoeDispatch.Auto)]
    [InlineData(true, OtceMoeDispatch.Dense)]
    [InlineData(false, OtceMoeDispatch.Dense)]
    public void GradientsReachTheRouterTheSharedPartAndEveryUsedExpert(bool expansive, OtceMoeDispatch dispatch)
    {
        using var m = NewMoe(expansive, seed: 8);
        m.Dispatch = dispatch;
        using var scope = NewDisposeScope();
        manual_seed(4);
        var x = randn([4, 32, D], ScalarType.Float64).requires_grad_(true);
        using var routing = new MoeRoutingCollector();
        var y = m.Forward(x, routing);
        var chosen = Longs(m.Route(x.detach().reshape(-1, D)).Experts);
        Assert.Equal(Enumerable.Range(0, E).Select(j => (long)j), chosen.Distinct().Order());   // every expert gets tokens
        Assert.Equal(1, routing.Count);
        var aux = routing.AuxLoss();
        Assert.True(aux.item<float>() >= 1.0 - 1e-6);                                         // Switch loss ≥ 1
        y.pow(2).mean().add(aux.mul(0.01)).backward();
        foreach (var (name, p) in m.named_parameters())
        {
            using var g = p.grad;
            Assert.True(g is not null && g.abs().max().item<double>() > 0, $"no gradient on {name}");
        }
        Assert.True(x.grad!.abs().max().item<double>() > 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DenseDispatchGivesEachTokenTheSameBitsWhateverTheOtherTokens(bool expansive)
    {
        using var m = NewMoe(expansive, seed: 12);
        m.to(ScalarType.Float32);
        m.Dispatch = OtceMoeDispatch.Dense;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(13);
        var x = randn([17, D]);
        var x2 = x.clone();
        x2.narrow(0, 9, 8).copy_(randn([8, D]));          // other tokens, other routing
        var a = m.forward(x).narrow(0, 0, 9);
        var b = m.forward(x2).narrow(0, 0, 9);
        Assert.True(a.Equals(b));
        m.Dispatch = OtceMoeDispatch.Sparse;
        Assert.True(MaxAbs(m.forward(x).narrow(0, 0, 9), a) <= 1e-6);
    }

    [Fact]
    public void RouterIsTrainedByTheOutputAloneBecauseWeightsAreProbabilities()
    {
        using var m = NewMoe(expansive: true, seed: 2);
        using var scope = NewDisposeScope();
        var x = randn([6, D], ScalarType.Float64);
        m.forward(x).sum().backward();
        using var g = Param(m, "router.weight").grad;
        Assert.True(g!.abs().max().item<double>() > 0);
    }

    [Fact]
    public void OtceMlpIsDownOfTanhUpTimesSiluGate()
    {
        manual_seed(6);
        using var mlp = new OtceMlp(D, I, bias: false);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = randn([3, D]);
        Tensor W(string n) => Param(mlp, n + ".weight");
        var expected = nn.functional.linear(
            nn.functional.linear(x, W("up_proj")).tanh().mul(nn.functional.silu(nn.functional.linear(x, W("gate_proj")))), W("down_proj"));
        Assert.True(MaxAbs(mlp.forward(x), expected) <= 1e-6);
    }
}
