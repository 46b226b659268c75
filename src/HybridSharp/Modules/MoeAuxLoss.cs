// Switch-Transformer load-balancing loss (Fedus et al. 2021, arXiv 2101.03961, eqs. 4–6), as used by Doge / Wonderful
// Matrices (arXiv 2412.11834) and the MoE baseline:
//   f_e = (1/(N·k)) Σ_n Σ_j 1[e_{n,j} = e]         fraction of the N·k (token, choice) assignments routed to expert e
//   P_e = (1/N) Σ_n p_n(e)                            mean router probability of expert e
//   L_aux = E · Σ_e f_e · P_e                          = 1 for perfectly uniform routing, up to E when collapsed
// Over several MoE layers (with equal E) the sums run over all layers' tokens at once (HF load_balancing_loss_func);
// padding tokens are left out. Layers store only small per-expert statistics [E], never [N, E] tensors.
using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>An FFN with a router: can report routing statistics for the auxiliary loss.</summary>
public interface IMoeLayer
{
    /// <summary>Number of routed experts E.</summary>
    int NumExperts { get; }

    /// <summary>
    /// FFN output for <paramref name="x"/> [..., d]. When <paramref name="routing"/> is given, also adds this call's
    /// routing statistics to it; <paramref name="attentionMask"/> (shape of x without the last dim; true/1 = real token)
    /// excludes padding from those statistics. The output itself never depends on the mask.
    /// </summary>
    Tensor Forward(Tensor x, MoeRoutingCollector? routing, Tensor? attentionMask = null);
}

/// <summary>
/// Per-layer routing statistics: assignment counts and summed router probabilities per expert, over the valid tokens.
/// Owns its tensors (detached from every dispose scope); dispose it, or the <see cref="MoeRoutingCollector"/> holding it.
/// </summary>
public sealed class MoeRoutingStats : IDisposable
{
    /// <summary>E.</summary>
    public int NumExperts { get; }
    /// <summary>[E] fp32, no gradient: number of (token, choice) assignments to each expert.</summary>
    public Tensor Counts { get; }
    /// <summary>[E] fp32, differentiable: Σ over valid tokens of the router probability of each expert.</summary>
    public Tensor ProbabilitySums { get; }
    /// <summary>Number of valid tokens N.</summary>
    public double Tokens { get; }
    /// <summary>Assignments per token (k; heads·k_h for multi-head CDMoE).</summary>
    public int ChoicesPerToken { get; }

    /// <summary>Takes ownership of <paramref name="counts"/> and <paramref name="probabilitySums"/> (both [E]).</summary>
    public MoeRoutingStats(Tensor counts, Tensor probabilitySums, double tokens, int choicesPerToken)
    {
        if (counts.dim() != 1 || !counts.shape.SequenceEqual(probabilitySums.shape))
            throw new ArgumentException("counts and probabilitySums must both have shape [E]");
        NumExperts = (int)counts.shape[0];
        Counts = counts.DetachFromDisposeScope();
        ProbabilitySums = probabilitySums.DetachFromDisposeScope();
        Tokens = tokens;
        ChoicesPerToken = choicesPerToken;
    }

    /// <summary>
    /// Statistics from token-level routing: <paramref name="probs"/> [N, E] router probabilities, <paramref name="experts"/>
    /// [N, k] chosen expert ids, <paramref name="attentionMask"/> [N] (null = all valid).
    /// </summary>
    public static MoeRoutingStats FromRouting(Tensor probs, Tensor experts, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        long n = probs.shape[0], e = probs.shape[1], k = experts.shape[1];
        var p = probs.to_type(ScalarType.Float32);
        var valid = MoeAuxLoss.ValidWeights(attentionMask, n, p.device);
        var probSums = valid is null ? p.sum(dim: 0) : p.mul(valid.unsqueeze(1)).sum(dim: 0);
        var counts = MoeAuxLoss.CountAssignments(experts, e, valid);
        double tokens = valid is null ? n : valid.sum().item<float>();
        return new MoeRoutingStats(counts, probSums, tokens, (int)k);
    }

    public void Dispose()
    {
        Counts.Dispose();
        ProbabilitySums.Dispose();
    }
}

/// <summary>Collects the routing statistics of every MoE layer during one forward pass (training loss).</summary>
public sealed class MoeRoutingCollector : IDisposable
{
    private readonly List<MoeRoutingStats> _stats = [];

    public IReadOnlyList<MoeRoutingStats> Stats => _stats;
    public int Count => _stats.Count;

    public void Add(MoeRoutingStats stats) => _stats.Add(stats);

    /// <summary>The unscaled load-balancing loss over all collected layers (a 0-dim fp32 tensor; 0 when empty).</summary>
    public Tensor AuxLoss() => MoeAuxLoss.FromStats(_stats);

    public void Dispose()
    {
        foreach (var s in _stats) s.Dispose();
        _stats.Clear();
    }
}

/// <summary>Switch-Transformer load-balancing loss L = E · Σ_e f_e · P_e.</summary>
public static class MoeAuxLoss
{
    /// <summary>
    /// Loss over several layers: layers with the same E are pooled (f and P over all their tokens, as HF does);
    /// groups with different E each contribute their own term. Returns a 0-dim fp32 tensor (0 when nothing was routed).
    /// </summary>
    public static Tensor FromStats(IEnumerable<MoeRoutingStats> stats)
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var group in stats.GroupBy(s => s.NumExperts))
        {
            double tokens = group.Sum(s => s.Tokens);
            double assignments = group.Sum(s => s.Tokens * s.ChoicesPerToken);
            if (tokens <= 0 || assignments <= 0) continue;
            Tensor? counts = null, probs = null;
            foreach (var s in group)
            {
                counts = counts is null ? s.Counts.alias() : counts.add(s.Counts);
                probs = probs is null ? s.ProbabilitySums.alias() : probs.add(s.ProbabilitySums);
            }
            var f = counts!.div(assignments);
            var p = probs!.div(tokens);
            var term = f.mul(p).sum().mul((double)group.Key);
            total = total is null ? term : total.add(term);
        }
        total ??= zeros([], ScalarType.Float32);
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loss of one routing decision: <paramref name="probs"/> [N, E] router probabilities, <paramref name="experts"/>
    /// [N, k] chosen experts, <paramref name="attentionMask"/> [N] (null = all tokens).
    /// </summary>
    public static Tensor Switch(Tensor probs, Tensor experts, Tensor? attentionMask = null)
    {
        using var stats = MoeRoutingStats.FromRouting(probs, experts, attentionMask);
        return FromStats([stats]);
    }

    /// <summary>[E] fp32 number of assignments per expert, each token weighted by <paramref name="validWeights"/> [N] (null = 1).</summary>
    public static Tensor CountAssignments(Tensor experts, long numExperts, Tensor? validWeights)
    {
        using var scope = NewDisposeScope();
        long n = experts.shape[0];
        var flat = experts.reshape(-1).to_type(ScalarType.Int64);
        var ones = validWeights is null
            ? torch.ones(flat.shape[0], ScalarType.Float32, device: experts.device)
            : validWeights.to_type(ScalarType.Float32).unsqueeze(1).expand(n, flat.shape[0] / Math.Max(n, 1)).reshape(-1);
        using var _ = no_grad();
        var counts = zeros(numExperts, ScalarType.Float32, device: experts.device).index_add_(0, flat, ones, 1);
        return counts.MoveToOuterDisposeScope();
    }

    /// <summary>Validity mask flattened to [N] fp32 (null stays null).</summary>
    internal static Tensor? ValidWeights(Tensor? attentionMask, long n, Device device)
    {
        if (attentionMask is null) return null;
        using var scope = NewDisposeScope();
        var v = attentionMask.reshape(-1).to_type(ScalarType.Float32).to(device);
        if (v.shape[0] != n) throw new ArgumentException($"attentionMask has {v.shape[0]} entries but the input has {n} tokens");
        return v.MoveToOuterDisposeScope();
    }
}
