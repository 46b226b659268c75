// Cross-domain mixture of experts of OTCE (arXiv 2406.16495, LoserCheems/OTCE CheemsSharedMoeLayer).
// Router: p = softmax_fp32(router(x)) ∈ ℝ^E, (w, e) = topk(p, k) (default E 4, k 1); weights are the selected
// probabilities, not renormalised;  y = Σ_j w_j · expert_{e_j}(x).  OTCE MLP form: mlp(x) = down(tanh(up(x)) ⊙ SiLU(gate(x))).
//   expansive: s = shared(x) (shared_{gate,up}_proj [I, d], shared_down_proj [d, I], computed once for all experts);
//              expert_j(x) = private_j( σ(shared_expert_gate_j(s)) · s ),  private_j an OTCE MLP of width I/2
//   cohesive:  only shared_up_proj [I/2, d] is shared;  expert_j(x) = down_j( tanh(shared_up(x)) ⊙ SiLU(gate_j(x)) )
// Load balancing: the Switch loss of MoeAuxLoss over the router probabilities and the chosen experts.
// Dispatch: sparse (each expert runs on the tokens routed to it) or dense (every expert on every token, then the
// chosen ones are picked). Both compute the same function; dense costs E/k times the expert FLOPs but a token's output
// is then bit-for-bit independent of the other tokens in the batch (a GEMM's per-row rounding can depend on the row
// count). Auto = sparse while autograd records (training), dense otherwise (evaluation, prefill, decode).
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>How <see cref="OtceMoe"/> evaluates its experts (see the file header).</summary>
public enum OtceMoeDispatch
{
    /// <summary>Sparse while autograd records, dense otherwise.</summary>
    Auto,
    /// <summary>Each expert on the tokens routed to it (gather / index_add).</summary>
    Sparse,
    /// <summary>Every expert on every token; per-token results independent of the batch.</summary>
    Dense,
}

/// <summary>
/// One OTCE expert: gate_proj [I/2, d], down_proj [d, I/2]; expansive experts also up_proj [I/2, d] and
/// shared_expert_gate [1, d].
/// </summary>
public sealed class OtceExpert : nn.Module
{
#pragma warning disable IDE1006 // field names are checkpoint names
    internal readonly Linear gate_proj;
    internal readonly Linear? up_proj;
    internal readonly Linear down_proj;
    internal readonly Linear? shared_expert_gate;
#pragma warning restore IDE1006

    public OtceExpert(long hidden, long intermediate, bool expansive, bool bias) : base("OtceExpert")
    {
        gate_proj = nn.Linear(hidden, intermediate, hasBias: bias);
        if (expansive)
        {
            up_proj = nn.Linear(hidden, intermediate, hasBias: bias);
            shared_expert_gate = nn.Linear(hidden, 1, hasBias: false);
        }
        down_proj = nn.Linear(intermediate, hidden, hasBias: bias);
        RegisterComponents();
    }

    /// <summary>Expansive expert on the shared output s [n, d].</summary>
    internal Tensor Expansive(Tensor s)
    {
        var gated = s.mul(shared_expert_gate!.forward(s).sigmoid());
        return down_proj.forward(up_proj!.forward(gated).tanh().mul(nn.functional.silu(gate_proj.forward(gated))));
    }

    /// <summary>Cohesive expert: x [n, d], sharedUp = tanh(shared_up_proj(x)) [n, I/2].</summary>
    internal Tensor Cohesive(Tensor x, Tensor sharedUp) =>
        down_proj.forward(sharedUp.mul(nn.functional.silu(gate_proj.forward(x))));
}

/// <summary>
/// OTCE cross-domain MoE (<c>mlp_types</c> entry "otce_moe"; variant from <c>moe.otce_moe_kind</c>). Names:
/// router.weight [E, d]; expansive: shared_{gate,up}_proj [I, d], shared_down_proj [d, I], experts.{j}.{gate_proj,
/// up_proj} [I/2, d], experts.{j}.down_proj [d, I/2], experts.{j}.shared_expert_gate [1, d]; cohesive: shared_up_proj
/// [I/2, d], experts.{j}.gate_proj [I/2, d], experts.{j}.down_proj [d, I/2].
/// </summary>
public sealed class OtceMoe : nn.Module<Tensor, Tensor>, IMoeLayer
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear router;
    private readonly Linear? shared_gate_proj;
    private readonly Linear shared_up_proj;
    private readonly Linear? shared_down_proj;
    private readonly ModuleList<OtceExpert> experts;
#pragma warning restore IDE1006

    public int NumExperts { get; }
    public int TopK { get; }
    public bool Expansive { get; }
    /// <summary>Expert evaluation strategy (same function either way).</summary>
    public OtceMoeDispatch Dispatch { get; set; } = OtceMoeDispatch.Auto;

    public OtceMoe(ModelConfig cfg, MoeConfig moe)
        : this(cfg.HiddenSize, cfg.IntermediateSize, moe.NumExperts, moe.NumExpertsPerTok, moe.OtceMoeKind == MoeConfig.OtceExpansive, cfg.MlpBias) { }

    public OtceMoe(long hidden, long intermediate, int numExperts, int topK, bool expansive, bool bias = false) : base("OtceMoe")
    {
        if (numExperts < 1) throw new ConfigException($"moe.num_experts must be positive (got {numExperts})");
        if (topK < 1 || topK > numExperts)
            throw new ConfigException($"moe.num_experts_per_tok must be in [1, num_experts = {numExperts}] (got {topK})");
        if (intermediate < 2) throw new ConfigException($"intermediate_size must be ≥ 2 for the OTCE MoE (got {intermediate})");
        NumExperts = numExperts;
        TopK = topK;
        Expansive = expansive;
        long half = intermediate / 2;
        router = nn.Linear(hidden, numExperts, hasBias: false);
        if (expansive)
        {
            shared_gate_proj = nn.Linear(hidden, intermediate, hasBias: bias);
            shared_up_proj = nn.Linear(hidden, intermediate, hasBias: bias);
            shared_down_proj = nn.Linear(intermediate, hidden, hasBias: bias);
        }
        else
        {
            shared_up_proj = nn.Linear(hidden, half, hasBias: bias);
        }
        experts = new ModuleList<OtceExpert>();
        for (int j = 0; j < numExperts; j++) experts.Add(new OtceExpert(hidden, half, expansive, bias));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <inheritdoc/>
    public Tensor Forward(Tensor x, MoeRoutingCollector? routing, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var shape = x.shape;
        var x2 = x.reshape(-1, shape[^1]);
        var (probs, w, e) = Route(x2);
        var shared = Expansive
            ? shared_down_proj!.forward(shared_up_proj.forward(x2).tanh().mul(nn.functional.silu(shared_gate_proj!.forward(x2))))
            : shared_up_proj.forward(x2).tanh();
        var dispatch = Dispatch == OtceMoeDispatch.Auto ? (is_grad_enabled() ? OtceMoeDispatch.Sparse : OtceMoeDispatch.Dense) : Dispatch;
        var y = dispatch == OtceMoeDispatch.Dense ? DenseExperts(x2, shared, w.to_type(x.dtype), e) : SparseExperts(x2, shared, w.to_type(x.dtype), e);
        if (routing is not null) routing.Add(MoeRoutingStats.FromRouting(probs, e, attentionMask));
        return y.view(shape).MoveToOuterDisposeScope();
    }

    private Tensor RunExpert(int j, Tensor x, Tensor shared) =>
        Expansive ? experts[j].Expansive(shared) : experts[j].Cohesive(x, shared);

    /// <summary>Each expert on the tokens routed to it: x [N, d], shared [N, ·], weights and chosen [N, k].</summary>
    private Tensor SparseExperts(Tensor x, Tensor shared, Tensor weights, Tensor chosen)
    {
        var flatW = weights.reshape(-1);
        var y = zeros_like(x);
        for (int j = 0; j < NumExperts; j++)
        {
            var assignmentIds = chosen.eq(j).reshape(-1).nonzero().squeeze(1);       // [m] token·k + choice (see MixtureOfExperts)
            if (assignmentIds.shape[0] == 0) continue;
            var token = assignmentIds.floor_divide(TopK);
            var weight = flatW.index_select(0, assignmentIds).unsqueeze(1);
            var outJ = RunExpert(j, x.index_select(0, token), shared.index_select(0, token));
            y = y.index_add(0, token, outJ.mul(weight), 1);
        }
        return y;
    }

    /// <summary>Every expert on every token, then Σ_j w_j·out[chosen_j]: per-token results independent of the batch.</summary>
    private Tensor DenseExperts(Tensor x, Tensor shared, Tensor weights, Tensor chosen)
    {
        var outs = stack(Enumerable.Range(0, NumExperts).Select(j => RunExpert(j, x, shared)).ToArray(), 1);   // [N, E, d]
        var picked = outs.gather(1, chosen.unsqueeze(-1).expand(chosen.shape[0], chosen.shape[1], x.shape[1]));  // [N, k, d]
        return picked.mul(weights.unsqueeze(-1)).sum([1]);
    }

    /// <summary>Router probabilities [N, E] and the top-k probabilities [N, k] (fp32, or fp64 for fp64 inputs), experts [N, k].</summary>
    public (Tensor Probs, Tensor Weights, Tensor Experts) Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = router.forward(x.reshape(-1, x.shape[^1]));
        var probs = logits.to_type(MoeOps.RouterType(logits.dtype)).softmax(-1);
        var (w, e) = probs.topk(TopK, dim: -1);
        return (probs.MoveToOuterDisposeScope(), w.MoveToOuterDisposeScope(), e.MoveToOuterDisposeScope());
    }
}
