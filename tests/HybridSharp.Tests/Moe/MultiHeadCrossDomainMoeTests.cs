using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using static HybridSharp.Tests.Moe.MoeTestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Moe;

/// <summary>Multi-head CDMoE: names, zero keys, forward vs a per-head reference, aux loss.</summary>
[Collection("Torch")]
public sealed class MultiHeadCrossDomainMoeTests
{
    private const int D = 6, I = 5, E = 16, Heads = 2, Kh = 3, R = 4;

    private static MultiHeadCrossDomainMoe NewMoe(long seed = 8)
    {
        manual_seed(seed);
        var m = new MultiHeadCrossDomainMoe(D, I, E, Heads, Kh, R);
        m.to(ScalarType.Float64);
        return m;
    }

    [Fact]
    public void ParameterNamesShapesAndZeroKeys()
    {
        using var scope = NewDisposeScope();
        var m = new MultiHeadCrossDomainMoe(D, I, E, Heads, Kh, R);
        var shapes = m.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(
            new[] { "down_embed.weight", "down_proj.weight", "gate_proj.weight", "keys", "queries.weight", "up_embed.weight", "up_proj.weight" },
            shapes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { Heads * R, D }, shapes["queries.weight"]);
        Assert.Equal(new long[] { Heads, 4, 2, R / 2 }, shapes["keys"]);
        Assert.Equal(0.0, m.Keys.abs().sum().item<float>());
    }

    [Fact]
    public void ForwardMatchesPerHeadReference()
    {
        using var scope = NewDisposeScope();
        var m = NewMoe();
        using (no_grad())
        {
            m.Keys.normal_(0, 1);
            Param(m, "down_embed.weight").normal_(0, 0.5);
            Param(m, "up_embed.weight").normal_(0, 0.5);
        }
        manual_seed(2);
        var x = randn(2, 3, D, ScalarType.Float64);
        var xf = x.reshape(6, D);
        var y = m.forward(x).reshape(6, D);

        var q = xf.matmul(Param(m, "queries.weight").t());          // [N, heads·R], laid out as [2, heads, R/2]
        var keys = m.Keys;
        var down = Param(m, "down_embed.weight");
        var up = Param(m, "up_embed.weight");
        var shared = nn.functional.linear(
            nn.functional.silu(nn.functional.linear(xf, Param(m, "gate_proj.weight"))).mul(nn.functional.linear(xf, Param(m, "up_proj.weight"))),
            Param(m, "down_proj.weight"));
        for (int n = 0; n < 6; n++)
        {
            var expected = shared[n].clone();
            for (int h = 0; h < Heads; h++)
            {
                var simX = zeros(4, ScalarType.Float64);
                var simY = zeros(4, ScalarType.Float64);
                for (int kappa = 0; kappa < 4; kappa++)
                {
                    simX[kappa] = q[n].narrow(0, (0 * Heads + h) * (R / 2), R / 2).dot(keys[h, kappa, 0]);
                    simY[kappa] = q[n].narrow(0, (1 * Heads + h) * (R / 2), R / 2).dot(keys[h, kappa, 1]);
                }
                var all = simX.unsqueeze(-1).add(simY.unsqueeze(0)).reshape(16);
                var (s, ids) = all.topk(Kh);
                var w = s.softmax(0);
                var idArr = Longs(ids);
                for (int j = 0; j < Kh; j++)
                    expected = expected.add(up[idArr[j]].mul(nn.functional.silu(down[idArr[j]].dot(xf[n])).mul(w[j])));
            }
            Assert.True(MaxAbs(y[n], expected) < 1e-12, $"token {n}");
        }
    }

    [Fact]
    public void ZeroKeysGiveAuxLossOne()
    {
        using var scope = NewDisposeScope();
        var m = NewMoe();
        using var collector = new MoeRoutingCollector();
        m.Forward(randn(5, D, ScalarType.Float64), collector);
        // Uniform candidate probabilities make E·Σ f_e·(1/E) = Σ f_e = 1 whatever the tie-broken selection.
        Assert.Equal(1.0, collector.AuxLoss().item<float>(), 6);
        Assert.Equal(5.0 * Heads * Kh, collector.Stats[0].Counts.sum().item<float>());
    }
}
