using System.Text.Json.Serialization;

namespace HybridSharp.Config;

/// <summary>
/// Settings of mixture-of-experts FFNs, the <c>moe</c> sub-object of config.json.
/// Used by the layers whose <c>mlp_types</c> entry is <see cref="FfnTypes.CdMoe"/> (product-key CDMoE of current Doge),
/// <see cref="FfnTypes.CdMoeMultiHead"/> (older multi-head CDMoE of Cheems / Wonderful Matrices) or <see cref="FfnTypes.TopKMoe"/>
/// (top-k softmax MoE baseline).
/// </summary>
public sealed class MoeConfig
{
    /// <summary><see cref="OtceMoeKind"/>: one shared OTCE MLP of width I feeding gated private experts of width I/2.</summary>
    public const string OtceExpansive = "expansive";
    /// <summary><see cref="OtceMoeKind"/>: only the up projection (width I/2) is shared.</summary>
    public const string OtceCohesive = "cohesive";

    /// <summary>E: routed experts (CDMoE: rows of down_embed/up_embed, a perfect square; baseline: expert MLPs).</summary>
    [JsonPropertyName("num_experts")] public int NumExperts { get; set; } = 1024;
    /// <summary>k: experts per token (product-key CDMoE and the baseline).</summary>
    [JsonPropertyName("num_experts_per_tok")] public int NumExpertsPerTok { get; set; } = 8;
    /// <summary>Re-normalise the k selected routing weights to sum 1 (a no-op for CDMoE, whose weights are a softmax over the k).</summary>
    [JsonPropertyName("norm_topk_prob")] public bool NormTopkProb { get; set; }
    /// <summary>Weight of the Switch load-balancing loss added to the LM loss in training (0 = off).</summary>
    [JsonPropertyName("router_aux_loss_coef")] public double RouterAuxLossCoef { get; set; } = 0.001;
    /// <summary>Ie: intermediate size of each baseline expert; null = the model's <c>intermediate_size</c>.</summary>
    [JsonPropertyName("moe_intermediate_size")] public int? MoeIntermediateSize { get; set; }
    /// <summary>
    /// Reproduce upstream Doge's cross-token router reshape (<c>[B,T,2Kk] → [2, B·T, Kk]</c>) and its
    /// rank-ordered aux loss, for bit-parity with small-doge / HF on multi-token inputs. Off = per-token routing.
    /// </summary>
    [JsonPropertyName("cdmoe_upstream_router_view")] public bool CdmoeUpstreamRouterView { get; set; }
    /// <summary>OTCE MoE variant: "expansive" (default) or "cohesive".</summary>
    [JsonPropertyName("otce_moe_kind")] public string OtceMoeKind { get; set; } = OtceExpansive;
    /// <summary>Multi-head CDMoE: retrieval heads.</summary>
    [JsonPropertyName("num_cdmoe_heads")] public int NumCdmoeHeads { get; set; } = 1;
    /// <summary>Multi-head CDMoE: experts per head k_h (≤ ⌊√E⌋).</summary>
    [JsonPropertyName("num_cdmoe_experts_per_head")] public int NumCdmoeExpertsPerHead { get; set; } = 2;
    /// <summary>Multi-head CDMoE: retrieval dimension R per head (even: split into two product halves).</summary>
    [JsonPropertyName("expert_retrieval_size")] public int ExpertRetrievalSize { get; set; } = 64;

    /// <summary>Kk = ⌊√E⌋, keys per product half.</summary>
    [JsonIgnore] public int NumKeys => IntSqrt(NumExperts);

    /// <summary>Per-expert intermediate size of the baseline.</summary>
    public int ExpertIntermediateSize(int intermediateSize) => MoeIntermediateSize ?? intermediateSize;

    /// <summary>⌊√n⌋ in exact integer arithmetic (n ≥ 0).</summary>
    public static int IntSqrt(int n)
    {
        if (n <= 0) return 0;
        long r = (long)Math.Sqrt(n);
        while (r * r > n) r--;
        while ((r + 1) * (r + 1) <= n) r++;
        return (int)r;
    }

    /// <summary>Throws unless <paramref name="numExperts"/> = Kk² (product-key routing reaches only ⌊√E⌋² experts).</summary>
    public static void RequirePerfectSquare(int numExperts, string prefix = "moe.")
    {
        int r = IntSqrt(numExperts);
        if (numExperts <= 0 || r * r != numExperts)
            throw new ConfigException(
                $"{prefix}num_experts must be a perfect square (got {numExperts}): product-key routing only reaches ⌊√E⌋² experts " +
                $"(nearest squares: {r * r}, {(r + 1) * (r + 1)})");
    }

    /// <summary>
    /// Checks the fields needed by the MoE kinds in <paramref name="usedMlpTypes"/> (null = all kinds);
    /// throws <see cref="ConfigException"/> with a message starting <c>moe.</c>.
    /// </summary>
    public void Validate(IEnumerable<string>? usedMlpTypes = null)
    {
        static void Req(bool ok, string msg) { if (!ok) throw new ConfigException("moe." + msg); }
        var used = (usedMlpTypes ?? FfnTypes.Routed).Where(FfnTypes.IsRouted).ToHashSet();
        Req(NumExperts > 0, $"num_experts must be positive (got {NumExperts})");
        Req(RouterAuxLossCoef >= 0 && double.IsFinite(RouterAuxLossCoef), $"router_aux_loss_coef must be ≥ 0 (got {RouterAuxLossCoef})");
        if (used.Contains(FfnTypes.CdMoe) || used.Contains(FfnTypes.TopKMoe) || used.Contains(FfnTypes.OtceMoe))
            Req(NumExpertsPerTok > 0 && NumExpertsPerTok <= NumExperts,
                $"num_experts_per_tok must be in [1, num_experts = {NumExperts}] (got {NumExpertsPerTok})");
        if (used.Contains(FfnTypes.CdMoe) || used.Contains(FfnTypes.CdMoeMultiHead))
            RequirePerfectSquare(NumExperts);
        if (used.Contains(FfnTypes.CdMoeMultiHead))
        {
            Req(NumCdmoeHeads > 0, $"num_cdmoe_heads must be positive (got {NumCdmoeHeads})");
            Req(NumCdmoeExpertsPerHead > 0 && NumCdmoeExpertsPerHead <= NumKeys,
                $"num_cdmoe_experts_per_head must be in [1, ⌊√num_experts⌋ = {NumKeys}] (got {NumCdmoeExpertsPerHead})");
            Req(ExpertRetrievalSize > 0 && ExpertRetrievalSize % 2 == 0,
                $"expert_retrieval_size must be a positive even number (got {ExpertRetrievalSize})");
        }
        if (used.Contains(FfnTypes.OtceMoe))
            Req(OtceMoeKind is OtceExpansive or OtceCohesive, $"otce_moe_kind must be '{OtceExpansive}' or '{OtceCohesive}' (got '{OtceMoeKind}')");
        if (used.Contains(FfnTypes.TopKMoe))
            Req(MoeIntermediateSize is null or > 0, $"moe_intermediate_size must be positive (got {MoeIntermediateSize})");
    }
}
