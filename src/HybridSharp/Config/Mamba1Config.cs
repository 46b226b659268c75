using System.Text.Json.Serialization;

namespace HybridSharp.Config;

/// <summary>
/// Settings of Mamba-1 (selective scan) layers as used by OTCE, the <c>mamba1</c> sub-object of config.json.
/// Defaults are OTCE's: expand 1, state 64, conv 4, no projection / conv biases, RMSNorms on dt, B
/// and C, RoPE on B and C with a table of dimension N (same θ and positions as attention).
/// </summary>
public sealed class Mamba1Config
{
    /// <summary>d_in = expand · hidden_size (OTCE: 1).</summary>
    [JsonPropertyName("expand")] public int Expand { get; set; } = 1;
    /// <summary>N, state size per channel (OTCE <c>mamba_d_state</c>).</summary>
    [JsonPropertyName("state_size")] public int StateSize { get; set; } = 64;
    /// <summary>R, rank of the dt projection; null = ⌈hidden_size / 16⌉.</summary>
    [JsonPropertyName("dt_rank")] public int? DtRank { get; set; }
    /// <summary>K, depthwise causal conv kernel over x (OTCE <c>mamba_d_conv</c>).</summary>
    [JsonPropertyName("conv_kernel")] public int ConvKernel { get; set; } = 4;
    /// <summary>Bias of conv1d (OTCE <c>mamba_conv_bias</c>, false).</summary>
    [JsonPropertyName("use_conv_bias")] public bool UseConvBias { get; set; }
    /// <summary>Biases of in_proj and dt_proj (OTCE <c>mamba_proj_bias</c>, false ⇒ no dt bias at all).</summary>
    [JsonPropertyName("use_proj_bias")] public bool UseProjBias { get; set; }
    /// <summary>RMSNorms on dt_low, B and C (OTCE <c>mamba_inner_layernorms</c>).</summary>
    [JsonPropertyName("inner_layernorms")] public bool InnerLayernorms { get; set; } = true;
    /// <summary>Rotate B and C with a rotary table of dimension N (OTCE <c>mamba_rope</c>).</summary>
    [JsonPropertyName("rope")] public bool Rope { get; set; } = true;
    /// <summary>Chunk length Q of the chunked scan (prefix scan inside chunks, state passing between them).</summary>
    [JsonPropertyName("chunk_size")] public int ChunkSize { get; set; } = 16;
    /// <summary>Range of the initial Δ when dt_proj has a bias (bias = softplus⁻¹ of Δ ∈ exp(U(ln dt_min, ln dt_max))).</summary>
    [JsonPropertyName("dt_min")] public double DtMin { get; set; } = 1e-3;
    [JsonPropertyName("dt_max")] public double DtMax { get; set; } = 1e-1;
    [JsonPropertyName("dt_init_floor")] public double DtInitFloor { get; set; } = 1e-4;
    [JsonPropertyName("norm_eps")] public double NormEps { get; set; } = 1e-6;

    public int InnerSize(int hiddenSize) => Expand * hiddenSize;
    public int Rank(int hiddenSize) => DtRank ?? (hiddenSize + 15) / 16;

    public void Validate(int hiddenSize)
    {
        static void Req(bool ok, string msg) { if (!ok) throw new ConfigException("mamba1." + msg); }
        Req(Expand > 0, "expand must be positive");
        Req(StateSize > 0, "state_size must be positive");
        Req(Rank(hiddenSize) > 0, "dt_rank must be positive");
        Req(ConvKernel > 0, "conv_kernel must be positive");
        Req(ChunkSize > 0, "chunk_size must be positive");
        Req(!Rope || StateSize % 2 == 0, $"state_size ({StateSize}) must be even when rope is on (RoPE rotates pairs)");
        Req(DtMin > 0 && DtMax >= DtMin, "dt_min/dt_max must satisfy 0 < dt_min ≤ dt_max");
        Req(NormEps > 0, "norm_eps must be positive");
    }
}
