using static TorchSharp.torch;
using HybridSharp.Caching;

namespace HybridSharp.Modules;

/// <summary>
/// The contract every sequence mixer (the part of a layer that moves information between positions) implements:
/// one forward over normalised hidden states x [B, T, d] → [B, T, d], reading whatever else it needs from
/// <see cref="MixerInputs"/>. A mixer knows its layer index (given at construction) and keeps its own decode state in
/// <see cref="MixerInputs.Cache"/> under that index. <see cref="MixerRegistry"/> maps each <c>layer_types</c> value
/// to the mixer that implements it.
/// </summary>
public interface ISequenceMixer
{
    /// <summary>x [B, T, d] → [B, T, d].</summary>
    Tensor Forward(Tensor x, MixerInputs inputs);

    /// <summary>
    /// Mixer-specific initialisation that runs after the model's generic one (normal(0, σ) matrices, zero biases, unit
    /// norms), e.g. the SSM scalars and the conv of state-space mixers. The default leaves the generic init in place.
    /// </summary>
    void InitializeParameters(Generator generator) { }
}

/// <summary>
/// What one forward call gives every mixer besides the hidden states. Built once per model call and shared by all
/// layers. Tensors are borrowed: the caller owns and disposes them.
/// </summary>
public sealed class MixerInputs
{
    /// <summary>cos / sin [B, T, P] (or [T, P]) of the shared rotary table at the tokens' positions (P = attention head dim).</summary>
    public required Tensor Cos { get; init; }
    /// <summary>See <see cref="Cos"/>.</summary>
    public required Tensor Sin { get; init; }

    /// <summary>
    /// cos / sin of the same positions at the state dimension N, for Mamba-1 layers whose N differs from the attention
    /// head dim; null = <see cref="Cos"/> / <see cref="Sin"/>.
    /// </summary>
    public Tensor? StateCos { get; init; }
    /// <summary>See <see cref="StateCos"/>.</summary>
    public Tensor? StateSin { get; init; }

    /// <summary>
    /// Which keys each query sees (causality, padding, packed-example blocks, server rows); read by attention-style
    /// mixers. Null = plain causal attention on top of whatever the cache holds.
    /// </summary>
    public KeyMask? KeyMask { get; init; }

    /// <summary>The model's decode cache, or null in training and full forwards. The caller advances its length.</summary>
    public InferenceCache? Cache { get; init; }

    /// <summary>
    /// [B, T] of this call's tokens: true / 1 = real token, false / 0 = (left) padding; null = all real. State-space
    /// mixers keep padding out of their state with it; attention reads padding from <see cref="KeyMask"/>.
    /// </summary>
    public Tensor? AttentionMask { get; init; }

    /// <summary>[B, T] (or [1, T]): the OTCE logn factor per token (fp32, fp64 for fp64 models); null = 1. See <see cref="LognScaling"/>.</summary>
    public Tensor? Logn { get; init; }

    /// <summary>
    /// [B, T] int64, packed rows only: which example each token belongs to (consecutive equal ids form one example).
    /// Attention-style mixers see the example blocks through <see cref="KeyMask"/>; a mixer whose registry entry says it
    /// cannot keep packed examples apart refuses a non-null value.
    /// </summary>
    public Tensor? DocumentIds { get; init; }
}
