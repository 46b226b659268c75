using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using static HybridSharp.Tests.Moe.MoeTestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Moe;

/// <summary>Switch load-balancing loss: hand values, masking, pooling over layers, CDMoE factorised statistics.</summary>
[Collection("Torch")]
public sealed class MoeAuxLossTests
{
    private static Tensor Ids(long[,] ids) => tensor(ids);

    [Fact]
    public void UniformRoutingGivesOne()
    {
        using var scope = NewDisposeScope();
        // E = 4, k = 1: four tokens, one per expert, uniform probabilities → f = P = 1/4 → L = 4·4·(1/16) = 1.
        var probs = full(4, 4, 0.25, ScalarType.Float32);
        var loss = MoeAuxLoss.Switch(probs, Ids(new long[,] { { 0 }, { 1 }, { 2 }, { 3 } }));
        Assert.Equal(1.0, loss.item<float>(), 6);
        const double coef = 0.001;
        Assert.Equal(coef, loss.mul(coef).item<float>(), 9);
        // k = 2, two tokens covering all four experts.
        var loss2 = MoeAuxLoss.Switch(full(2, 4, 0.25, ScalarType.Float32), Ids(new long[,] { { 0, 1 }, { 2, 3 } }));
        Assert.Equal(1.0, loss2.item<float>(), 6);
    }

    [Fact]
    public void CollapsedRoutingHandExample()
    {
        using var scope = NewDisposeScope();
        // Both tokens to expert 0: f = [1, 0, 0, 0], P₀ = (0.7 + 0.4)/2 = 0.55 → L = 4·0.55 = 2.2.
        var probs = tensor(new float[,] { { 0.7f, 0.1f, 0.1f, 0.1f }, { 0.4f, 0.3f, 0.2f, 0.1f } });
        var loss = MoeAuxLoss.Switch(probs, Ids(new long[,] { { 0 }, { 0 } }));
        Assert.Equal(2.2, loss.item<float>(), 5);
        // A padded third token routed elsewhere changes nothing when masked out.
        var probs3 = cat([probs, tensor(new float[,] { { 0f, 0f, 0f, 1f } })], 0);
        var ids3 = Ids(new long[,] { { 0 }, { 0 }, { 3 } });
        Assert.Equal(2.2, MoeAuxLoss.Switch(probs3, ids3, tensor(new[] { true, true, false })).item<float>(), 5);
        Assert.NotEqual(2.2, MoeAuxLoss.Switch(probs3, ids3).item<float>(), 3);
    }

    [Fact]
    public void LayersArePooledNotSummed()
    {
        using var scope = NewDisposeScope();
        using var collector = new MoeRoutingCollector();
        var probs = full(2, 4, 0.25, ScalarType.Float32);
        collector.Add(MoeRoutingStats.FromRouting(probs, Ids(new long[,] { { 0 }, { 0 } })));   // alone: L = 1·4·0.25·... = 1
        collector.Add(MoeRoutingStats.FromRouting(probs, Ids(new long[,] { { 1 }, { 1 } })));
        // Pooled: f = [½, ½, 0, 0], P = ¼ → L = 4·(¼·½ + ¼·½) = 1 (a per-layer sum would give 2).
        Assert.Equal(1.0, collector.AuxLoss().item<float>(), 6);
        // An empty collector gives 0.
        using var empty = new MoeRoutingCollector();
        Assert.Equal(0.0, empty.AuxLoss().item<float>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CdMoeStatisticsMatchTheDenseCandidateSoftmax(bool upstream)
    {
        using var scope = NewDisposeScope();
        const int e = 16, n = 6, d = 5;
        manual_seed(21);
        var m = new CrossDomainMoe(d, 7, e, 3, upstreamRouterView: upstream);
        m.to(ScalarType.Float64);
        using (no_grad()) Param(m, "router_gate.weight").normal_(0, 1);
        var x = randn(2, 3, d, ScalarType.Float64);
        var valid = tensor(new[,] { { true, true, false }, { true, true, true } });

        using var collector = new MoeRoutingCollector();
        m.Forward(x, collector, valid);
        Assert.Equal(1, collector.Count);

        // Dense reference: softmax over all Kk² candidate sums, at expert id i·Kk + j (intended) or in rank order (upstream).
        var r = m.Route(x);
        var (rx, ry) = (r.LogitsX, r.LogitsY);
        if (upstream)
        {
            rx = rx.sort(-1, descending: true).Values;
            ry = ry.sort(-1, descending: true).Values;
        }
        var dense = rx.unsqueeze(-1).add(ry.unsqueeze(-2)).reshape(n, e).softmax(-1);
        var expected = MoeAuxLoss.Switch(dense, r.Experts, valid.reshape(-1));
        Assert.Equal(expected.item<float>(), collector.AuxLoss().item<float>(), 5);
    }

    [Fact]
    public void AuxLossTrainsTheRouter()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var m = new CrossDomainMoe(5, 7, 16, 2);
        using var collector = new MoeRoutingCollector();
        m.Forward(randn(4, 5), collector);
        collector.AuxLoss().backward();
        Assert.True(Param(m, "router_gate.weight").grad!.abs().sum().item<float>() > 0);
        Assert.Null(Param(m, "down_embed.weight").grad);
    }
}
