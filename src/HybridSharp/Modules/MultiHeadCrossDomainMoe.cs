// Multi-head cross-domain MoE, the older CDMoE of Cheems (arXiv 2407.16958) and Wonderful Matrices (arXiv 2412.11834;
// LoserCheems/WonderfulMatrices cdmoe.py, pre-PR #95 Doge), with product-key retrieval (Lample et al. 2019). Per token x:
//   q = queries(x) viewed as [2, heads, R/2]  (product half p first, then head h)
//   sim_p[h, κ] = ⟨q[p, h], keys[h, κ, p]⟩,  κ ∈ [0, Kk),  Kk = √E
//   per head: top-k_h of each half → k_h² candidates (sum of scores, id i·Kk + j) → top-k_h → w_h = softmax
//   y = down_proj(act(gate_proj(x)) ⊙ up_proj(x)) + Σ_h Σ_{e ∈ sel_h} act(⟨x, down_embed[e]⟩) · w_{h,e} · up_embed[e]
// keys start at zero (all candidates tie at init; selection then follows top-k tie-breaking). Load-balancing loss [HS]:
// Switch form (Fedus et al. 2021) with f_e over all heads·k_h assignments and P_e = mean over tokens and heads of the
// factorised candidate softmax softmax(sim_0[h]) ⊗ softmax(sim_1[h]).
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridSharp.Kernels;

namespace HybridSharp.Modules;

/// <summary>
/// Multi-head CDMoE. Weight names: queries.weight [heads·R, d], keys [heads, Kk, 2, R/2],
/// down_embed.weight, up_embed.weight [E, d], shared gate_proj / up_proj / down_proj.
/// </summary>
public sealed class MultiHeadCrossDomainMoe : nn.Module<Tensor, Tensor>, IMoeLayer, IDecodeStepSource<IFfnDecodeStep>
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear gate_proj, up_proj, down_proj, queries;
    private readonly Parameter keys;
    private readonly Embedding down_embed, up_embed;
#pragma warning restore IDE1006
    private readonly string _act;

    public int NumExperts { get; }
    public int NumKeys { get; }
    public int NumHeads { get; }
    /// <summary>k_h.</summary>
    public int ExpertsPerHead { get; }
    /// <summary>R.</summary>
    public int RetrievalSize { get; }

    /// <summary>From the model config (hidden_size, intermediate_size, mlp_bias, hidden_act) and its <c>moe</c> section.</summary>
    public MultiHeadCrossDomainMoe(ModelConfig cfg, MoeConfig moe) : this(cfg.HiddenSize, cfg.IntermediateSize, moe.NumExperts,
        moe.NumCdmoeHeads, moe.NumCdmoeExpertsPerHead, moe.ExpertRetrievalSize, cfg.MlpBias, cfg.HiddenAct) { }

    public MultiHeadCrossDomainMoe(long hidden, long intermediate, int numExperts, int heads, int expertsPerHead, int retrievalSize,
        bool mlpBias = false, string act = "silu") : base("MultiHeadCrossDomainMoe")
    {
        new MoeConfig
        {
            NumExperts = numExperts, NumCdmoeHeads = heads, NumCdmoeExpertsPerHead = expertsPerHead, ExpertRetrievalSize = retrievalSize,
        }.Validate([FfnTypes.CdMoeMultiHead]);
        NumExperts = numExperts;
        NumKeys = MoeConfig.IntSqrt(numExperts);
        NumHeads = heads;
        ExpertsPerHead = expertsPerHead;
        RetrievalSize = retrievalSize;
        _act = act;
        gate_proj = nn.Linear(hidden, intermediate, hasBias: mlpBias);
        up_proj = nn.Linear(hidden, intermediate, hasBias: mlpBias);
        down_proj = nn.Linear(intermediate, hidden, hasBias: mlpBias);
        queries = nn.Linear(hidden, (long)heads * retrievalSize, hasBias: false);
        keys = nn.Parameter(zeros(heads, NumKeys, 2, retrievalSize / 2));
        down_embed = nn.Embedding(numExperts, hidden);
        up_embed = nn.Embedding(numExperts, hidden);
        RegisterComponents();
    }

    /// <summary>The product keys [heads, Kk, 2, R/2] (zero at construction).</summary>
    public Parameter Keys => keys;

    /// <summary>The managed one-token step over the same weights; null for activations it lacks.</summary>
    public unsafe IFfnDecodeStep? CreateDecodeStep(MatrixStore weights) => !RowOps.Supports(_act) ? null : new CdMoeDecodeStep
    {
        Hidden = (int)gate_proj.weight!.size(1), Intermediate = (int)gate_proj.weight!.size(0), Act = _act,
        Gate = weights.Get(gate_proj.weight!), Up = weights.Get(up_proj.weight!), Down = weights.Get(down_proj.weight!),
        GateBias = TensorMemory.Float32OrNull(gate_proj.bias), UpBias = TensorMemory.Float32OrNull(up_proj.bias),
        DownBias = TensorMemory.Float32OrNull(down_proj.bias), Router = weights.Get(queries.weight!), Keys = TensorMemory.Float32(keys), RouterHeads = NumHeads,
        RetrievalSize = RetrievalSize, NumKeys = NumKeys, TopK = ExpertsPerHead, NormTopkProb = false,
        DownEmbed = TensorMemory.Float32(down_embed.weight!), UpEmbed = TensorMemory.Float32(up_embed.weight!),
    };

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <inheritdoc/>
    public Tensor Forward(Tensor x, MoeRoutingCollector? routing, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var shape = x.shape;
        var x2 = x.reshape(-1, shape[^1]);
        long n = x2.shape[0];
        var (sx, sy) = Similarities(x2);
        var (w, e) = CrossDomainMoe.SelectExperts(sx, sy, ExpertsPerHead, NumKeys);     // [N, heads, k_h]
        var y = MoeOps.SharedMlp(x2, gate_proj, up_proj, down_proj, _act)
            .add_(MoeOps.RankOneExperts(x2, w.reshape(n, -1).to_type(x.dtype), e.reshape(n, -1), down_embed, up_embed, _act));
        if (routing is not null) routing.Add(Statistics(sx, sy, e, attentionMask));
        return y.view(shape).MoveToOuterDisposeScope();
    }

    /// <summary>Routing of <paramref name="x"/> [N, d]: weights [N, heads, k_h] (softmax per head; fp32, fp64 kept) and expert ids [N, heads, k_h].</summary>
    public (Tensor Weights, Tensor Experts) Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (sx, sy) = Similarities(x.reshape(-1, x.shape[^1]));
        var (w, e) = CrossDomainMoe.SelectExperts(sx, sy, ExpertsPerHead, NumKeys);
        return (w.MoveToOuterDisposeScope(), e.MoveToOuterDisposeScope());
    }

    /// <summary>sim_0, sim_1 [N, heads, Kk] for x [N, d].</summary>
    public (Tensor X, Tensor Y) Similarities(Tensor x)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0];
        var q = queries.forward(x).view(n, 2, NumHeads, RetrievalSize / 2);
        var sim = einsum("nphr,hkpr->pnhk", q, keys);
        return (sim[0].MoveToOuterDisposeScope(), sim[1].MoveToOuterDisposeScope());
    }

    private MoeRoutingStats Statistics(Tensor sx, Tensor sy, Tensor experts, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        long n = sx.shape[0];
        var px = sx.to_type(ScalarType.Float32).softmax(-1);        // [N, heads, Kk]
        var py = sy.to_type(ScalarType.Float32).softmax(-1);
        var valid = MoeAuxLoss.ValidWeights(attentionMask, n, px.device);
        if (valid is not null) px = px.mul(valid.view(n, 1, 1));
        var probSums = einsum("nhi,nhj->ij", px, py).reshape(-1).div((double)NumHeads);
        var counts = MoeAuxLoss.CountAssignments(experts.reshape(n, -1), NumExperts, valid);
        double tokens = valid is null ? n : valid.sum().item<float>();
        return new MoeRoutingStats(counts, probSums, tokens, NumHeads * ExpertsPerHead);
    }
}
