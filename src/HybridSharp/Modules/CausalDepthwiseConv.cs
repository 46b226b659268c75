// Causal depthwise convolution over time, as in Mamba-1/2 (per channel ch, kernel K):
//   y_t[ch] = Σ_{k=0..K−1} w[ch,k]·x_{t−K+1+k}[ch] + bias[ch],  with x_{<0} = cached inputs or zeros.
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>Causal depthwise conv in the [B, T, C] layout, with an optional rolling state of the last K inputs.</summary>
internal static class CausalDepthwiseConv
{
    /// <summary>
    /// x [B, T, C]; weight [C, 1, K]; bias [C] or null; convState [B, C, K] (the last K inputs, oldest first) or null
    /// for zero left context. The state, when given, is overwritten with the last K inputs. Returns the conv output
    /// [B, T, C] before any activation.
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias, Tensor? convState)
    {
        long b = x.shape[0], t = x.shape[1], channels = x.shape[2];
        int kernel = (int)weight.shape[^1];
        Tensor context = convState is not null
            ? convState.narrow(-1, 1, kernel - 1).transpose(1, 2).to_type(x.dtype)
            : zeros([b, kernel - 1, channels], x.dtype, x.device);
        var full = cat([context, x], 1);                                // [B, K − 1 + T, C]
        var w = weight.view(channels, kernel).t();                     // [K, C]
        Tensor y;
        if (t == 1)
        {
            y = full.mul(w).sum([1], keepdim: true);
        }
        else
        {
            // Σ_k w[k] ⊙ full[:, k : k + T] (on CPU this beats libtorch's depthwise conv1d, whose weight
            // gradient is slow, which picks a much slower kernel under no_grad, and which in fp64 retries NNPACK with a warning).
            y = full.narrow(1, 0, t).mul(w[0]);
            for (long k = 1; k < kernel; k++) y = y.add_(full.narrow(1, k, t).mul(w[k]));
        }
        if (bias is not null) y = y.add_(bias);
        if (convState is not null)
            using (no_grad()) convState.copy_(full.narrow(1, t - 1, kernel).transpose(1, 2));
        return y;
    }
}
