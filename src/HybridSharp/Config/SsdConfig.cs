using System.Text.Json.Serialization;

namespace HybridSharp.Config;

/// <summary>
/// Settings of SSD (Mamba-2 state-space-duality) layers, the <c>ssm</c> sub-object of config.json.
/// Full Mamba-2: conv on, gated norm on, D on, no RoPE. TransXSSM / Cheems "stripped" SSD: conv off, gate off,
/// RoPE on C and B with the model's shared rotary table (needs <see cref="StateSize"/> = attention head dim).
/// </summary>
public sealed class SsdConfig
{
    /// <summary>d_in = expand · hidden_size.</summary>
    [JsonPropertyName("expand")] public int Expand { get; set; } = 2;
    /// <summary>P, channels per SSD head; heads H = d_in / P.</summary>
    [JsonPropertyName("head_dim")] public int HeadDim { get; set; } = 64;
    /// <summary>N, the state size per head.</summary>
    [JsonPropertyName("state_size")] public int StateSize { get; set; } = 64;
    /// <summary>G, groups sharing B and C (contiguous blocks of H/G heads).</summary>
    [JsonPropertyName("n_groups")] public int NGroups { get; set; } = 1;
    /// <summary>Depthwise causal conv kernel K over x|B|C; 0 = no conv (and no activation on x|B|C).</summary>
    [JsonPropertyName("conv_kernel")] public int ConvKernel { get; set; } = 4;
    [JsonPropertyName("use_conv_bias")] public bool UseConvBias { get; set; } = true;
    /// <summary>z gate + grouped gated RMSNorm before out_proj.</summary>
    [JsonPropertyName("gated")] public bool Gated { get; set; } = true;
    /// <summary>D skip connection y += D·x.</summary>
    [JsonPropertyName("use_d")] public bool UseD { get; set; } = true;
    [JsonPropertyName("use_bias")] public bool UseBias { get; set; }
    /// <summary>Chunk length Q of the chunked algorithm (64 is fastest on CPU).</summary>
    [JsonPropertyName("chunk_size")] public int ChunkSize { get; set; } = 64;
    /// <summary>Rotate C and B with the shared rotary table (Unified RoPE).</summary>
    [JsonPropertyName("rope")] public bool Rope { get; set; }
    [JsonPropertyName("dt_min")] public double DtMin { get; set; } = 1e-3;
    [JsonPropertyName("dt_max")] public double DtMax { get; set; } = 1e-1;
    [JsonPropertyName("dt_init_floor")] public double DtInitFloor { get; set; } = 1e-4;
    /// <summary>Clamp limits applied to dt after softplus; [0, +∞) means none.</summary>
    [JsonPropertyName("time_step_limit")] public double[] TimeStepLimit { get; set; } = [0.0, double.PositiveInfinity];
    [JsonPropertyName("norm_eps")] public double NormEps { get; set; } = 1e-5;

    public int InnerSize(int hiddenSize) => Expand * hiddenSize;
    public int NumHeads(int hiddenSize) => InnerSize(hiddenSize) / HeadDim;
    public int ConvChannels(int hiddenSize) => InnerSize(hiddenSize) + 2 * NGroups * StateSize;

    public void Validate(int hiddenSize, int attentionHeadDim)
    {
        static void Req(bool ok, string msg) { if (!ok) throw new ConfigException("ssm." + msg); }
        Req(Expand > 0, "expand must be positive");
        Req(HeadDim > 0 && InnerSize(hiddenSize) % HeadDim == 0, $"head_dim ({HeadDim}) must divide expand·hidden_size ({InnerSize(hiddenSize)})");
        Req(StateSize > 0, "state_size must be positive");
        int h = NumHeads(hiddenSize);
        Req(NGroups > 0 && h % NGroups == 0, $"n_groups ({NGroups}) must divide the number of SSD heads ({h})");
        Req(ConvKernel >= 0, "conv_kernel must be ≥ 0 (0 = off)");
        Req(ChunkSize > 0, "chunk_size must be positive");
        Req(!Rope || StateSize % 2 == 0, "state_size must be even when rope is on");
        Req(!Rope || StateSize == attentionHeadDim, $"state_size ({StateSize}) must equal the attention head_dim ({attentionHeadDim}) for Unified RoPE (one shared table)");
        Req(DtMin > 0 && DtMax >= DtMin, "dt_min/dt_max must satisfy 0 < dt_min ≤ dt_max");
        Req(TimeStepLimit.Length == 2 && TimeStepLimit[0] >= 0 && TimeStepLimit[1] > TimeStepLimit[0], "time_step_limit must be [low, high] with 0 ≤ low < high");
        Req(!Gated || InnerSize(hiddenSize) % NGroups == 0, "n_groups must divide d_in for the grouped norm");
    }
}
