// Top-k softmax mixture of SwiGLU experts: the MoE baseline of the CDMoE comparison (Wonderful Matrices, arXiv
// 2412.11834; Mixtral-style sparse block; load balancing after the Switch Transformer, Fedus et al. 2021). Per token x:
//   p = softmax(router(x)) (fp32) ∈ ℝ^E;  (w, e) = topk(p, k);  if norm_topk_prob: w ← w / Σ w
//   y = Σ_j w_j · down_{e_j}(act(gate_{e_j}(x)) ⊙ up_{e_j}(x))
//   L_aux = E · Σ_e f_e · P_e,  f_e = share of the N·k assignments to e, P_e = mean_n p_n(e)
// Two equal implementations: grouped (sort the N·k (token, choice) assignments by expert, one gather, one contiguous segment and one
// matmul chain per expert, one index_add) and loop (per expert: find its (token, choice) assignments, gather, compute, index_add).
// Expert weights are stacked parameters (experts.gate_proj.weight [E, Ie, d], experts.up_proj.weight [E, Ie, d],
// experts.down_proj.weight [E, d, Ie]); checkpoints use per-expert names experts.{j}.gate_proj.weight etc.,
// converted by ToCheckpointNames / FromCheckpointNames.
using System.Text.RegularExpressions;
using HybridSharp.Config;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>Which implementation <see cref="MixtureOfExperts"/> uses.</summary>
public enum MoeDispatch
{
    /// <summary>Sort (token, choice) assignments by expert; contiguous segments.</summary>
    Grouped,
    /// <summary>Per-expert loop with gather and index_add (the naive baseline).</summary>
    Loop,
}

/// <summary>E linear maps without bias, stacked in one parameter <c>weight</c> [E, out, in].</summary>
public sealed class StackedLinear : nn.Module
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Parameter weight;
#pragma warning restore IDE1006

    public StackedLinear(long experts, long inFeatures, long outFeatures) : base("StackedLinear")
    {
        // nn.Linear's default init per expert: U(−1/√in, 1/√in).
        double bound = 1.0 / Math.Sqrt(inFeatures);
        weight = nn.Parameter(empty(experts, outFeatures, inFeatures));
        using (no_grad()) weight.uniform_(-bound, bound);
        RegisterComponents();
    }

    /// <summary>[E, out, in].</summary>
    public Parameter Weight => weight;
}

/// <summary>The experts of <see cref="MixtureOfExperts"/>: gate_proj, up_proj [E, Ie, d], down_proj [E, d, Ie].</summary>
public sealed class StackedExperts : nn.Module
{
#pragma warning disable IDE1006 // field names are checkpoint names
    internal readonly StackedLinear gate_proj, up_proj, down_proj;
#pragma warning restore IDE1006

    public StackedExperts(long experts, long hidden, long intermediate) : base("StackedExperts")
    {
        gate_proj = new StackedLinear(experts, hidden, intermediate);
        up_proj = new StackedLinear(experts, hidden, intermediate);
        down_proj = new StackedLinear(experts, intermediate, hidden);
        RegisterComponents();
    }
}

/// <summary>
/// Top-k softmax MoE of SwiGLU experts. Names: router.weight [E, d]; experts held stacked
/// (see file header and <see cref="ToCheckpointNames"/>).
/// </summary>
public sealed class MixtureOfExperts : nn.Module<Tensor, Tensor>, IMoeLayer
{
#pragma warning disable IDE1006 // field names are checkpoint names
    private readonly Linear router;
    private readonly StackedExperts experts;
#pragma warning restore IDE1006
    private readonly string _act;

    public int NumExperts { get; }
    public int TopK { get; }
    public bool NormTopkProb { get; }
    /// <summary>Implementation used by <see cref="Forward"/> (both give the same result).</summary>
    public MoeDispatch Dispatch { get; set; } = MoeDispatch.Grouped;

    /// <summary>From the model config (hidden_size, intermediate_size, hidden_act) and its <c>moe</c> section.</summary>
    public MixtureOfExperts(ModelConfig cfg, MoeConfig moe) : this(cfg.HiddenSize, moe.ExpertIntermediateSize(cfg.IntermediateSize),
        moe.NumExperts, moe.NumExpertsPerTok, cfg.HiddenAct, moe.NormTopkProb) { }

    public MixtureOfExperts(long hidden, long expertIntermediate, int numExperts, int topK, string act = "silu", bool normTopkProb = false)
        : base("MixtureOfExperts")
    {
        if (numExperts < 1) throw new ConfigException($"moe.num_experts must be positive (got {numExperts})");
        if (topK < 1 || topK > numExperts)
            throw new ConfigException($"moe.num_experts_per_tok must be in [1, num_experts = {numExperts}] (got {topK})");
        NumExperts = numExperts;
        TopK = topK;
        NormTopkProb = normTopkProb;
        _act = act;
        router = nn.Linear(hidden, numExperts, hasBias: false);
        experts = new StackedExperts(numExperts, hidden, expertIntermediate);
        RegisterComponents();
    }

    /// <summary>[E, Ie, d], [E, Ie, d], [E, d, Ie].</summary>
    public (Parameter Gate, Parameter Up, Parameter Down) ExpertWeights =>
        (experts.gate_proj.Weight, experts.up_proj.Weight, experts.down_proj.Weight);

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <inheritdoc/>
    public Tensor Forward(Tensor x, MoeRoutingCollector? routing, Tensor? attentionMask = null) => Forward(x, Dispatch, routing, attentionMask);

    /// <summary>Output with an explicit implementation choice.</summary>
    public Tensor Forward(Tensor x, MoeDispatch dispatch, MoeRoutingCollector? routing = null, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var shape = x.shape;
        var x2 = x.reshape(-1, shape[^1]);
        var (probs, w, e) = Route(x2);
        var wx = w.to_type(x.dtype);
        var y = dispatch == MoeDispatch.Loop ? ExpertsLoop(x2, wx, e) : ExpertsGrouped(x2, wx, e);
        if (routing is not null) routing.Add(MoeRoutingStats.FromRouting(probs, e, attentionMask));
        return y.view(shape).MoveToOuterDisposeScope();
    }

    /// <summary>Router probabilities [N, E] and top-k weights [N, k] (fp32, or fp64 for fp64 inputs), experts [N, k], for x [N, d].</summary>
    public (Tensor Probs, Tensor Weights, Tensor Experts) Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = router.forward(x.reshape(-1, x.shape[^1]));
        var probs = logits.to_type(MoeOps.RouterType(logits.dtype)).softmax(-1);
        var (w, e) = probs.topk(TopK, dim: -1);
        if (NormTopkProb) w = w.div(w.sum(-1, keepdim: true));
        return (probs.MoveToOuterDisposeScope(), w.MoveToOuterDisposeScope(), e.MoveToOuterDisposeScope());
    }

    private Tensor Expert(Tensor xs, Tensor gate, Tensor up, Tensor down) =>
        nn.functional.linear(MoeOps.Activate(nn.functional.linear(xs, gate), _act).mul(nn.functional.linear(xs, up)), down);

    /// <summary>Grouped dispatch: (token, choice) assignments sorted by expert, one contiguous segment per expert.</summary>
    public Tensor ExpertsGrouped(Tensor x, Tensor weights, Tensor chosen)
    {
        using var scope = NewDisposeScope();
        long k = chosen.shape[1];
        var flat = chosen.reshape(-1);
        var (_, order) = flat.sort(0, descending: false, stable: true);           // assignment ids, grouped by expert
        var token = order.div(k, rounding_mode: RoundingMode.floor);
        long[] counts;
        using (var cpuCounts = flat.bincount(null, NumExperts).cpu())
        using (var acc = cpuCounts.data<long>())
            counts = acc.ToArray();
        // One gather and one split (split's backward is a single cat; per-expert narrows would each allocate [N·k, d]).
        var segments = x.index_select(0, token).split(counts, 0);                  // [count_j, d] per expert
        var gates = experts.gate_proj.Weight.unbind(0);
        var ups = experts.up_proj.Weight.unbind(0);
        var downs = experts.down_proj.Weight.unbind(0);
        var outs = new List<Tensor>(NumExperts);
        for (int j = 0; j < NumExperts; j++)
            if (counts[j] > 0) outs.Add(Expert(segments[j], gates[j], ups[j], downs[j]));
        var ys = cat(outs, 0).mul(weights.reshape(-1).index_select(0, order).unsqueeze(1));
        var y = zeros_like(x).index_add(0, token, ys, 1);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Loop dispatch (naive baseline): for each expert, find its (token, choice) assignments, gather, compute, index_add.</summary>
    public Tensor ExpertsLoop(Tensor x, Tensor weights, Tensor chosen)
    {
        using var scope = NewDisposeScope();
        long k = chosen.shape[1];
        var flatW = weights.reshape(-1);
        var gates = experts.gate_proj.Weight.unbind(0);
        var ups = experts.up_proj.Weight.unbind(0);
        var downs = experts.down_proj.Weight.unbind(0);
        var y = zeros_like(x);
        for (int j = 0; j < NumExperts; j++)
        {
            // Flat assignment ids token·k + choice straight from the flattened mask (no integer add, whose default alpha
            // TorchSharp has been seen to pass as a floating-point scalar, which libtorch refuses for int64 tensors).
            var assignmentIds = chosen.eq(j).reshape(-1).nonzero().squeeze(1);       // [m]
            if (assignmentIds.shape[0] == 0) continue;
            var token = assignmentIds.floor_divide(k);
            var h = Expert(x.index_select(0, token), gates[j], ups[j], downs[j]).mul(flatW.index_select(0, assignmentIds).unsqueeze(1));
            y.index_add_(0, token, h, 1);
        }
        return y.MoveToOuterDisposeScope();
    }

    // ---- checkpoint names -------------------------------------------------------------------------------------------

    private static readonly string[] ProjNames = ["gate_proj", "up_proj", "down_proj"];
    private static readonly Regex PerExpertName = new(@"^(?<p>.*)experts\.(?<j>\d+)\.(?<n>gate_proj|up_proj|down_proj)\.weight$", RegexOptions.CultureInvariant);

    /// <summary>Name prefixes ("model.layers.3.mlp.") of every <see cref="MixtureOfExperts"/> in <paramref name="model"/>.</summary>
    public static IReadOnlyList<string> Prefixes(nn.Module model)
    {
        var result = new List<string>();
        if (model is MixtureOfExperts) result.Add("");
        foreach (var (name, m) in model.named_modules())
            if (m is MixtureOfExperts) result.Add(name + ".");
        return result;
    }

    /// <summary>
    /// Module state names → checkpoint names: replaces each <c>{prefix}experts.{proj}.weight</c> [E, …] of a
    /// <see cref="MixtureOfExperts"/> in <paramref name="model"/> by views <c>{prefix}experts.{j}.{proj}.weight</c>.
    /// Other entries pass through. New views belong to the current dispose scope.
    /// </summary>
    public static Dictionary<string, Tensor> ToCheckpointNames(nn.Module model, IReadOnlyDictionary<string, Tensor> state)
    {
        var result = new Dictionary<string, Tensor>(state, StringComparer.Ordinal);
        foreach (var prefix in Prefixes(model))
            foreach (var proj in ProjNames)
            {
                string key = $"{prefix}experts.{proj}.weight";
                if (!result.TryGetValue(key, out var stacked) || stacked.dim() != 3) continue;
                result.Remove(key);
                var parts = stacked.unbind(0);
                for (int j = 0; j < parts.Length; j++) result[$"{prefix}experts.{j}.{proj}.weight"] = parts[j];
            }
        return result;
    }

    /// <summary>
    /// Checkpoint names → module state names: stacks <c>{prefix}experts.{j}.{proj}.weight</c>, j = 0…E−1, into
    /// <c>{prefix}experts.{proj}.weight</c> for each <see cref="MixtureOfExperts"/> of <paramref name="model"/>. Incomplete or
    /// mis-shaped sets are left as they are (the loader then reports them). Stacked tensors belong to the current dispose scope.
    /// </summary>
    public static Dictionary<string, Tensor> FromCheckpointNames(nn.Module model, IReadOnlyDictionary<string, Tensor> checkpoint)
    {
        var result = new Dictionary<string, Tensor>(checkpoint, StringComparer.Ordinal);
        var prefixes = Prefixes(model).ToHashSet(StringComparer.Ordinal);
        var groups = checkpoint.Keys
            .Select(name => (Name: name, Match: PerExpertName.Match(name)))
            .Where(t => t.Match.Success && prefixes.Contains(t.Match.Groups["p"].Value))
            .GroupBy(t => (Prefix: t.Match.Groups["p"].Value, Proj: t.Match.Groups["n"].Value));
        foreach (var g in groups)
        {
            var byIndex = new SortedDictionary<int, string>();
            bool ok = true;
            foreach (var (name, m) in g)
                ok &= int.TryParse(m.Groups["j"].Value, out int j) && byIndex.TryAdd(j, name);
            if (!ok || byIndex.Count == 0 || byIndex.Keys.First() != 0 || byIndex.Keys.Last() != byIndex.Count - 1) continue;
            var parts = byIndex.Values.Select(n => checkpoint[n]).ToList();
            if (parts.Any(p => p.dim() != 2 || !p.shape.SequenceEqual(parts[0].shape) || p.dtype != parts[0].dtype)) continue;
            foreach (var n in byIndex.Values) result.Remove(n);
            result[$"{g.Key.Prefix}experts.{g.Key.Proj}.weight"] = stack(parts, 0);
        }
        return result;
    }
}
