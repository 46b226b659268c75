using HybridSharp.Config;
using HybridSharp.Modules;
using TorchSharp;
using Xunit;
using static HybridSharp.Tests.Moe.MoeTestUtil;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Moe;

/// <summary>Product-key CDMoE: names, hand-computed routing, uniform weights for equal scores, per-token routing, the top-k shortcut against a full sort, upstream quirk mapping, sparse gradients.</summary>
[Collection("Torch")]
public sealed class CrossDomainMoeTests
{
    private const int D = 6, I = 5;

    private static CrossDomainMoe NewMoe(int experts, int k, bool quirk = false, long seed = 3)
    {
        manual_seed(seed);
        var m = new CrossDomainMoe(D, I, experts, k, upstreamRouterView: quirk);
        m.to(ScalarType.Float64);
        // Larger than the HF init so that routed experts matter numerically.
        using (no_grad())
        {
            Param(m, "down_embed.weight").normal_(0, 0.5);
            Param(m, "up_embed.weight").normal_(0, 0.5);
        }
        return m;
    }

    [Fact]
    public void ParameterNamesAndShapes()
    {
        using var scope = NewDisposeScope();
        var m = new CrossDomainMoe(D, I, 16, 4);
        var shapes = m.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(
            new[] { "down_embed.weight", "down_proj.weight", "gate_proj.weight", "router_gate.weight", "up_embed.weight", "up_proj.weight" },
            shapes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { 8, D }, shapes["router_gate.weight"]);
        Assert.Equal(new long[] { 16, D }, shapes["down_embed.weight"]);
        Assert.Equal(new long[] { 16, D }, shapes["up_embed.weight"]);
        Assert.Equal(new long[] { I, D }, shapes["gate_proj.weight"]);
        Assert.Equal(new long[] { D, I }, shapes["down_proj.weight"]);
        Assert.Equal(4, m.NumKeys);
    }

    [Fact]
    public void HandExampleRoutingAndOutput()
    {
        using var scope = NewDisposeScope();
        var m = NewMoe(16, 4);
        // x = e₀, so the router logits are column 0 of router_gate: r_x = [0.5, 3, 1, 2], r_y = [1, 0, 2.5, 0.2].
        var w = zeros(8, D, ScalarType.Float64);
        w[.., 0] = tensor(new[] { 0.5, 3.0, 1.0, 2.0, 1.0, 0.0, 2.5, 0.2 }, ScalarType.Float64);
        Set(m, "router_gate.weight", w);
        var x = zeros(1, 1, D, ScalarType.Float64);
        x[0, 0, 0] = 1.0;

        // Candidate sums, best first: (1,2) 5.5 → e 6; (3,2) 4.5 → 14; (1,0) 4.0 → 4; (2,2) 3.5 → 10; next (1,3) 3.2.
        var r = m.Route(x);
        Assert.Equal(new long[] { 6, 14, 4, 10 }, Longs(r.Experts));
        var scores = new[] { 5.5, 4.5, 4.0, 3.5 };
        double z = scores.Sum(Math.Exp);
        var expectW = scores.Select(s => Math.Exp(s) / z).ToArray();
        var gotW = Doubles(r.Weights);
        for (int j = 0; j < 4; j++) Assert.Equal(expectW[j], gotW[j], 12);

        // y = shared(x) + Σ_j SiLU(⟨x, down[e_j]⟩)·w_j·up[e_j], with the shared MLP written out by hand.
        var xv = x.reshape(D);
        var shared = Param(m, "down_proj.weight").matmul(
            nn.functional.silu(Param(m, "gate_proj.weight").matmul(xv)).mul(Param(m, "up_proj.weight").matmul(xv)));
        var expected = shared.clone();
        var down = Param(m, "down_embed.weight");
        var up = Param(m, "up_embed.weight");
        long[] ids = [6, 14, 4, 10];
        for (int j = 0; j < 4; j++)
        {
            double a = down[ids[j]].dot(xv).item<double>();
            double silu = a / (1 + Math.Exp(-a));
            expected = expected.add(up[ids[j]].mul(silu * expectW[j]));
        }
        var y = m.forward(x);
        Assert.Equal(x.shape, y.shape);
        Assert.True(MaxAbs(y.reshape(D), expected) < 1e-12);
    }

    [Fact]
    public void KEqualsEWithEqualScoresGivesUniformWeights()
    {
        using var scope = NewDisposeScope();
        var m = NewMoe(16, 16);
        Set(m, "router_gate.weight", zeros(8, D, ScalarType.Float64));
        var r = m.Route(randn(5, D, ScalarType.Float64));
        Assert.True(MaxAbs(r.Weights, full(5, 16, 1.0 / 16, ScalarType.Float64)) < 1e-15);
        var ids = Longs(r.Experts);
        for (int n = 0; n < 5; n++)
            Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), ids.Skip(16 * n).Take(16).Order());
    }

    [Fact]
    public void TokensAreRoutedIndependently()   // intended mode
    {
        using var scope = NewDisposeScope();
        var m = NewMoe(16, 3);
        manual_seed(11);
        var x = randn(2, 5, D, ScalarType.Float64);
        var x2 = x.clone();
        x2[1, 2] = randn(D, ScalarType.Float64);      // flat token 7
        var (r1, r2) = (m.Route(x), m.Route(x2));
        var (y1, y2) = (m.forward(x).reshape(10, D), m.forward(x2).reshape(10, D));
        var e1 = Longs(r1.Experts);
        var e2 = Longs(r2.Experts);
        bool changed = false;
        for (int n = 0; n < 10; n++)
        {
            var a = e1.Skip(3 * n).Take(3).ToArray();
            var b = e2.Skip(3 * n).Take(3).ToArray();
            if (n == 7) { changed = !a.SequenceEqual(b) || MaxAbs(y1[n], y2[n]) > 1e-9; continue; }
            Assert.Equal(a, b);
            Assert.True(MaxAbs(r1.Weights[n], r2.Weights[n]) < 1e-14);
            Assert.True(MaxAbs(y1[n], y2[n]) < 1e-12, $"token {n} changed");
        }
        Assert.True(changed, "the edited token itself should change");
    }

    [Fact]
    public void UpstreamViewReproducesTheCrossTokenMapping()   // quirk flag
    {
        using var scope = NewDisposeScope();
        const int kk = 4, n = 10;
        var m = NewMoe(16, 3, quirk: true);
        manual_seed(12);
        var x = randn(2, 5, D, ScalarType.Float64);
        var logits = x.reshape(n, D).matmul(Param(m, "router_gate.weight").t());   // [N, 2Kk], intended layout

        //: token t's x-half = half (t mod 2) of token ⌊t/2⌋; y-half = half ((N+t) mod 2) of token ⌊(N+t)/2⌋.
        var ex = stack(Enumerable.Range(0, n).Select(t => logits[t / 2].narrow(0, (t % 2) * kk, kk)), 0);
        var ey = stack(Enumerable.Range(0, n).Select(t => logits[(n + t) / 2].narrow(0, ((n + t) % 2) * kk, kk)), 0);
        var r = m.Route(x);
        Assert.True(MaxAbs(r.LogitsX, ex) < 1e-14);
        Assert.True(MaxAbs(r.LogitsY, ey) < 1e-14);
        var (w, e) = CrossDomainMoe.SelectExperts(ex, ey, 3, kk);
        Assert.Equal(Longs(e), Longs(r.Experts));
        Assert.True(MaxAbs(w, r.Weights) < 1e-14);

        // Cross-token effect: token 8's y-half is read from token 9, so editing token 9 re-routes token 8.
        var x2 = x.clone();
        x2[1, 4] = randn(D, ScalarType.Float64);      // flat token 9
        var r2 = m.Route(x2);
        Assert.True(MaxAbs(r.LogitsY[8], r2.LogitsY[8]) > 1e-6);
        Assert.True(MaxAbs(r.LogitsX[9], r2.LogitsX[9]) < 1e-15);   // token 9's own x-half comes from token 4

        // A single token (decode) sees the intended split.
        var one = x.reshape(n, D)[..1];
        var intended = NewMoe(16, 3, quirk: false);
        Set(intended, "router_gate.weight", Param(m, "router_gate.weight"));
        Assert.Equal(Longs(intended.Route(one).Experts), Longs(m.Route(one).Experts));
    }

    [Theory]
    [InlineData(16, 1)]
    [InlineData(16, 3)]
    [InlineData(16, 4)]
    [InlineData(16, 5)]
    [InlineData(16, 16)]
    [InlineData(25, 7)]
    [InlineData(64, 8)]
    public void ShortcutMatchesFullSort(int experts, int k)
    {
        using var scope = NewDisposeScope();
        int kk = MoeConfig.IntSqrt(experts);
        manual_seed(experts * 100 + k);
        var rx = randn(40, kk, ScalarType.Float64);
        var ry = randn(40, kk, ScalarType.Float64);
        var (w1, e1) = CrossDomainMoe.SelectExperts(rx, ry, k, kk);
        var (w2, e2) = CrossDomainMoe.SelectExperts(rx, ry, k, kk, fullSort: true);
        Assert.Equal(Longs(e2), Longs(e1));
        Assert.True(MaxAbs(w1, w2) < 1e-14);
        // Brute force over all E candidates as well.
        var all = rx.unsqueeze(-1).add(ry.unsqueeze(-2)).reshape(40, experts);
        var (_, e3) = all.topk(k, dim: -1);
        Assert.Equal(Longs(e3), Longs(e1));
    }

    [Fact]
    public void GradientsReachOnlyChosenExpertRows()
    {
        using var scope = NewDisposeScope();
        var m = NewMoe(16, 2);
        manual_seed(5);
        var x = randn(3, D, ScalarType.Float64);
        var chosen = Longs(m.Route(x).Experts).ToHashSet();
        m.forward(x).mul(randn(3, D, ScalarType.Float64)).sum().backward();
        foreach (var name in new[] { "down_embed.weight", "up_embed.weight" })
        {
            var g = Param(m, name).grad!;
            for (int e = 0; e < 16; e++)
            {
                double norm = g[e].abs().sum().item<double>();
                if (chosen.Contains(e)) Assert.True(norm > 0, $"{name} row {e} (chosen) has no gradient");
                else Assert.Equal(0.0, norm);
            }
        }
        Assert.True(Param(m, "router_gate.weight").grad!.abs().sum().item<double>() > 0);
    }

    [Fact]
    public void AcceptsAnyLeadingShapeAndKeepsDtype()
    {
        using var scope = NewDisposeScope();
        var m = new CrossDomainMoe(D, I, 9, 2);
        var x = randn(2, 3, D);
        var y = m.forward(x);
        Assert.Equal(x.shape, y.shape);
        Assert.Equal(ScalarType.Float32, y.dtype);
        Assert.True(MaxAbs(y.reshape(6, D), m.forward(x.reshape(6, D))) < 1e-6);
    }

    [Fact]
    public void NonSquareExpertCountIsRejected()
    {
        var ex = Assert.Throws<ConfigException>(() => new MoeConfig { NumExperts = 1000 }.Validate([FfnTypes.CdMoe]));
        Assert.Contains("num_experts must be a perfect square (got 1000)", ex.Message);
        Assert.StartsWith("moe.", ex.Message);
        Assert.Throws<ConfigException>(() => new MoeConfig { NumExperts = 16348 }.Validate([FfnTypes.CdMoeMultiHead]));
        var ctor = Assert.Throws<ConfigException>(() => new CrossDomainMoe(D, I, 1000, 4));
        Assert.Contains("num_experts must be a perfect square (got 1000)", ctor.Message);
        // The top-k baseline has no such restriction.
        new MoeConfig { NumExperts = 1000, NumExpertsPerTok = 2 }.Validate([FfnTypes.TopKMoe]);
        new MoeConfig { NumExperts = 1024 }.Validate([FfnTypes.CdMoe]);
    }

    [Fact]
    public void ConfigValidationAndJson()
    {
        Assert.Throws<ConfigException>(() => new MoeConfig { NumExperts = 16, NumExpertsPerTok = 17 }.Validate([FfnTypes.CdMoe]));
        Assert.Throws<ConfigException>(() => new MoeConfig { NumExperts = 16, NumCdmoeExpertsPerHead = 5 }.Validate([FfnTypes.CdMoeMultiHead]));
        Assert.Throws<ConfigException>(() => new MoeConfig { NumExperts = 16, ExpertRetrievalSize = 7 }.Validate([FfnTypes.CdMoeMultiHead]));
        Assert.Throws<ConfigException>(() => new MoeConfig { RouterAuxLossCoef = -1 }.Validate());
        Assert.Equal(127, new MoeConfig { NumExperts = 16348 }.NumKeys);

        var json = """{"num_experts": 4096, "num_experts_per_tok": 16, "norm_topk_prob": true, "router_aux_loss_coef": 0.01, "moe_intermediate_size": 96, "cdmoe_upstream_router_view": true, "num_cdmoe_heads": 2, "num_cdmoe_experts_per_head": 4, "expert_retrieval_size": 32}""";
        var c = System.Text.Json.JsonSerializer.Deserialize<MoeConfig>(json)!;
        Assert.Equal((4096, 16, true, 0.01, 96, true, 2, 4, 32),
            (c.NumExperts, c.NumExpertsPerTok, c.NormTopkProb, c.RouterAuxLossCoef, c.MoeIntermediateSize, c.CdmoeUpstreamRouterView,
             c.NumCdmoeHeads, c.NumCdmoeExpertsPerHead, c.ExpertRetrievalSize));
        Assert.Equal(64, c.NumKeys);
        c.Validate();
        Assert.Contains("\"cdmoe_upstream_router_view\": true", System.Text.Json.JsonSerializer.Serialize(c, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }
}
