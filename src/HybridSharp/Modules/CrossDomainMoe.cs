// Cross-domain mixture of experts with product-key routing: Doge's CDMoE (Wonderful Matrices, arXiv 2412.11834;
// SmallDoges/small-doge DogeCDMoE), product-key retrieval after Lample et al. 2019 ("Large Memory Layers with Product
// Keys"). Per token x ∈ ℝ^d, with Kk = √E:
//   r = router_gate(x) ∈ ℝ^{2Kk};   r_x = r[0:Kk], r_y = r[Kk:2Kk]
//   (s_x, i_x) = topk(r_x, k'), (s_y, i_y) = topk(r_y, k'),  k' = min(k, Kk)      (upstream k' = Kk: same result)
//   cand[i,j] = s_x,i + s_y,j,  id[i,j] = i_x,i · Kk + i_y,j;   (s, pos) = topk(cand, k);  e = id[pos]
//   w = softmax(s)                                      (in fp32; fp64 inputs stay fp64)
//   y = down_proj(act(gate_proj(x)) ⊙ up_proj(x)) + Σ_j act(⟨x, down_embed[e_j]⟩) · w_j · up_embed[e_j]
// Each routed expert is a rank-1 d → 1 → d MLP; the shared SwiGLU keeps the dense MLP's names, so a dense checkpoint
// continues training as a sparse one. Batched: gather the k rows of down_embed / up_embed per token ([N, k, d]), no
// [N, E] tensor. The auxiliary loss (Switch, Fedus et al. 2021) uses the candidate softmax over all E experts, which
// factorises: softmax(r_x ⊕ r_y) = softmax(r_x) ⊗ softmax(r_y), so P_e = (1/N)·Σ_n p_x,n ⊗ p_y,n is one [Kk, Kk] matmul.
// Upstream quirk, flag cdmoe_upstream_router_view: logits [N, 2Kk] are viewed row-major as
// [2, N, Kk], so token n's x-half is half (n mod 2) of token ⌊n/2⌋ and its y-half is half ((N+n) mod 2) of token
// ⌊(N+n)/2⌋; its aux loss averages the candidate softmax in sorted-rank order.
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>Routing decision of a CDMoE call: per-token router halves, weights and experts (tensors of the caller's scope).</summary>
/// <param name="LogitsX">[N, Kk] router logits of the first product half used by each token (after the upstream view, if on).</param>
/// <param name="LogitsY">[N, Kk] second half.</param>
/// <param name="Weights">[N, k] routing weights (fp32, or fp64 for fp64 inputs) (softmax over the k selected candidates).</param>
/// <param name="Experts">[N, k] int64 expert ids i_x·Kk + i_y, in descending score order.</param>
public sealed record CdMoeRouting(Tensor LogitsX, Tensor LogitsY, Tensor Weights, Tensor Experts);

/// <summary>
/// Product-key cross-domain MoE. Weight names: gate_proj, up_proj, down_proj (shared SwiGLU),
/// router_gate [2·Kk, d], down_embed [E, d], up_embed [E, d].
/// </summary>
public sealed class CrossDomainMoe : nn.Module<Tensor, Tensor>, IMoeLayer, IDecodeStepSource<IFfnDecodeStep>
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear gate_proj, up_proj, down_proj, router_gate;
    private readonly Embedding down_embed, up_embed;
#pragma warning restore IDE1006
    private readonly string _act;

    public int NumExperts { get; }
    /// <summary>Kk = √E.</summary>
    public int NumKeys { get; }
    /// <summary>k.</summary>
    public int TopK { get; }
    public bool NormTopkProb { get; }
    /// <summary>Reproduce the upstream cross-token router view and rank-ordered aux loss.</summary>
    public bool UpstreamRouterView { get; }

    /// <summary>From the model config (hidden_size, intermediate_size, mlp_bias, hidden_act) and its <c>moe</c> section.</summary>
    public CrossDomainMoe(ModelConfig cfg, MoeConfig moe) : this(cfg.HiddenSize, cfg.IntermediateSize, moe.NumExperts,
        moe.NumExpertsPerTok, cfg.MlpBias, cfg.HiddenAct, moe.NormTopkProb, moe.CdmoeUpstreamRouterView) { }

    public CrossDomainMoe(long hidden, long intermediate, int numExperts, int topK, bool mlpBias = false, string act = "silu",
        bool normTopkProb = false, bool upstreamRouterView = false) : base("CrossDomainMoe")
    {
        MoeConfig.RequirePerfectSquare(numExperts);
        if (topK < 1 || topK > numExperts)
            throw new ConfigException($"moe.num_experts_per_tok must be in [1, num_experts = {numExperts}] (got {topK})");
        NumExperts = numExperts;
        NumKeys = MoeConfig.IntSqrt(numExperts);
        TopK = topK;
        NormTopkProb = normTopkProb;
        UpstreamRouterView = upstreamRouterView;
        _act = act;
        gate_proj = nn.Linear(hidden, intermediate, hasBias: mlpBias);
        up_proj = nn.Linear(hidden, intermediate, hasBias: mlpBias);
        down_proj = nn.Linear(intermediate, hidden, hasBias: mlpBias);
        router_gate = nn.Linear(hidden, 2L * NumKeys, hasBias: false);
        down_embed = nn.Embedding(numExperts, hidden);
        up_embed = nn.Embedding(numExperts, hidden);
        RegisterComponents();
    }

    /// <summary>The managed one-token step over the same weights; null for activations it lacks or the upstream router view (it mixes the rows of a step).</summary>
    public unsafe IFfnDecodeStep? CreateDecodeStep(MatrixStore weights) => UpstreamRouterView || !RowOps.Supports(_act) ? null : new CdMoeDecodeStep
    {
        Hidden = (int)gate_proj.weight!.size(1), Intermediate = (int)gate_proj.weight!.size(0), Act = _act,
        Gate = weights.Get(gate_proj.weight!), Up = weights.Get(up_proj.weight!), Down = weights.Get(down_proj.weight!),
        GateBias = TensorMemory.Float32OrNull(gate_proj.bias), UpBias = TensorMemory.Float32OrNull(up_proj.bias),
        DownBias = TensorMemory.Float32OrNull(down_proj.bias), Router = weights.Get(router_gate.weight!), Keys = null, RouterHeads = 1,
        RetrievalSize = 0, NumKeys = NumKeys, TopK = TopK, NormTopkProb = NormTopkProb,
        DownEmbed = TensorMemory.Float32(down_embed.weight!), UpEmbed = TensorMemory.Float32(up_embed.weight!),
    };

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <inheritdoc/>
    public Tensor Forward(Tensor x, MoeRoutingCollector? routing, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var shape = x.shape;
        var x2 = x.reshape(-1, shape[^1]);
        var r = Route(x2);
        var y = MoeOps.SharedMlp(x2, gate_proj, up_proj, down_proj, _act)
            .add_(MoeOps.RankOneExperts(x2, r.Weights.to_type(x.dtype), r.Experts, down_embed, up_embed, _act));
        if (routing is not null) routing.Add(Statistics(r, attentionMask));
        return y.view(shape).MoveToOuterDisposeScope();
    }

    /// <summary>Routing of <paramref name="x"/> [N, d] (or [..., d], flattened row-major).</summary>
    public CdMoeRouting Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = router_gate.forward(x.reshape(-1, x.shape[^1]));
        var (rx, ry) = SplitRouterLogits(logits, NumKeys, UpstreamRouterView);
        var (w, e) = SelectExperts(rx, ry, TopK, NumKeys, NormTopkProb);
        return new CdMoeRouting(rx.MoveToOuterDisposeScope(), ry.MoveToOuterDisposeScope(), w.MoveToOuterDisposeScope(), e.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Splits router logits [N, 2Kk] into the per-token halves r_x, r_y [N, Kk]. Intended: row n → (r[n, :Kk], r[n, Kk:]).
    /// <paramref name="upstreamView"/>: the row-major view [2, N, Kk] of upstream Doge (mixes tokens).
    /// </summary>
    public static (Tensor X, Tensor Y) SplitRouterLogits(Tensor logits, int numKeys, bool upstreamView)
    {
        using var scope = NewDisposeScope();
        long n = logits.shape[0];
        var v = upstreamView ? logits.reshape(2, n, numKeys) : logits.view(n, 2, numKeys).transpose(0, 1);
        return (v[0].MoveToOuterDisposeScope(), v[1].MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Product-key top-k over leading dims: <paramref name="rx"/>, <paramref name="ry"/> [..., Kk] → weights [..., k]
    /// (softmax in fp32, fp64 kept over the k best candidate sums) and expert ids [..., k] = i_x·Kk + i_y, best first.
    /// Takes the top-min(k, Kk) of each half; <paramref name="fullSort"/> ranks all Kk² candidates instead (upstream;
    /// the same experts and weights up to ties).
    /// </summary>
    public static (Tensor Weights, Tensor Experts) SelectExperts(Tensor rx, Tensor ry, int k, int numKeys, bool normTopkProb = false, bool fullSort = false)
    {
        using var scope = NewDisposeScope();
        int kp = fullSort ? numKeys : Math.Min(k, numKeys);
        var (sx, ix) = rx.topk(kp, dim: -1);
        var (sy, iy) = ry.topk(kp, dim: -1);
        long[] lead = rx.shape[..^1];
        long[] flatShape = [.. lead, (long)kp * kp];
        var cand = sx.unsqueeze(-1).add(sy.unsqueeze(-2)).reshape(flatShape);
        var ids = ix.unsqueeze(-1).mul(numKeys).add(iy.unsqueeze(-2)).reshape(flatShape);
        var (s, pos) = cand.topk(k, dim: -1);
        var experts = ids.gather(-1, pos);
        var w = s.to_type(MoeOps.RouterType(s.dtype)).softmax(-1);
        if (normTopkProb) w = w.div(w.sum(-1, keepdim: true));
        return (w.MoveToOuterDisposeScope(), experts.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Aux-loss statistics of one routing: counts of the chosen experts and Σ_n p_x,n ⊗ p_y,n flattened to [E]
    /// (intended form), or the rank-ordered Σ_n sort(p_x,n) ⊗ sort(p_y,n) of upstream (<see cref="UpstreamRouterView"/>).
    /// </summary>
    public MoeRoutingStats Statistics(CdMoeRouting routing, Tensor? attentionMask = null) =>
        ProductKeyStatistics(routing.LogitsX, routing.LogitsY, routing.Experts, NumExperts, attentionMask, UpstreamRouterView);

    /// <summary>Statistics for product-key routing with halves <paramref name="rx"/>, <paramref name="ry"/> [N, Kk] and chosen <paramref name="experts"/> [N, k].</summary>
    public static MoeRoutingStats ProductKeyStatistics(Tensor rx, Tensor ry, Tensor experts, int numExperts, Tensor? attentionMask, bool rankOrdered)
    {
        using var scope = NewDisposeScope();
        long n = rx.shape[0];
        var px = rx.to_type(ScalarType.Float32).softmax(-1);
        var py = ry.to_type(ScalarType.Float32).softmax(-1);
        if (rankOrdered)
        {
            px = px.sort(-1, descending: true).Values;
            py = py.sort(-1, descending: true).Values;
        }
        var valid = MoeAuxLoss.ValidWeights(attentionMask, n, px.device);
        if (valid is not null) px = px.mul(valid.unsqueeze(1));
        var probSums = px.t().matmul(py).reshape(-1);
        var counts = MoeAuxLoss.CountAssignments(experts.reshape(n, -1), numExperts, valid);
        double tokens = valid is null ? n : valid.sum().item<float>();
        return new MoeRoutingStats(counts, probSums, tokens, (int)experts.reshape(n, -1).shape[1]);
    }
}

/// <summary>Building blocks shared by the MoE modules.</summary>
internal static class MoeOps
{
    /// <summary>Router softmax precision: fp32, except that fp64 stays fp64 (exactness tests).</summary>
    public static ScalarType RouterType(ScalarType dtype) => dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    public static Tensor Activate(Tensor x, string act) => act switch
    {
        "gelu" => nn.functional.gelu(x),
        "relu" => nn.functional.relu(x),
        _ => nn.functional.silu(x),
    };

    /// <summary>down(act(gate(x)) ⊙ up(x)).</summary>
    public static Tensor SharedMlp(Tensor x, Linear gate, Linear up, Linear down, string act)
    {
        using var scope = NewDisposeScope();
        return down.forward(Activate(gate.forward(x), act).mul(up.forward(x))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Σ_j act(⟨x, down_embed[e_j]⟩)·w_j·up_embed[e_j] for x [N, d], weights and experts [N, m]: gathers [N, m, d] twice.
    /// </summary>
    public static Tensor RankOneExperts(Tensor x, Tensor weights, Tensor experts, Embedding downEmbed, Embedding upEmbed, string act)
    {
        using var scope = NewDisposeScope();
        var down = downEmbed.forward(experts);                       // [N, m, d]
        var a = down.bmm(x.unsqueeze(-1)).squeeze(-1);              // [N, m]
        a = Activate(a, act).mul(weights);
        var up = upEmbed.forward(experts);                           // [N, m, d]
        return a.unsqueeze(1).bmm(up).squeeze(1).MoveToOuterDisposeScope();   // [N, d]
    }
}
