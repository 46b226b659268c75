// Selective scan of Mamba-1 (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
// arXiv 2312.00752), the form used by OTCE (arXiv 2406.16495). Per channel c ∈ [0, d_in) and state n ∈ [0, N):
//   a_t[c,n] = exp(Δ_t[c]·A[c,n])  (A < 0),   u_t[c,n] = Δ_t[c]·x_t[c]·B_t[n]
//   h_t = a_t ⊙ h_{t−1} + u_t,     y_t[c] = Σ_n C_t[n]·h_t[c,n]          (the D·x skip term is added by the caller)
// A is per (channel, state), so the scalar-decay SSD chunking of Mamba-2 does not apply. Training / prefill uses a
// chunked scan built only from tensor operations:
//   1. inside every chunk of Q tokens (all chunks at once): a Hillis–Steele prefix scan of the affine maps (a_t, u_t)
//      with offsets 1, 2, 4, … < Q:  u_t ← u_t + a_t·u_{t−k},  a_t ← a_t·a_{t−k}  (t − k inside the chunk). Afterwards
//      u_l is the state at l reached from a zero state at the chunk start. Only products of decays ≤ 1 and sums occur:
//      no exp(−cum) factors that overflow, no cumsum differences that cancel — exact up to rounding for any Δ·A.
//   2. P_l = exp(Σ_{r≤l} log a_r) (cumulative decay from the chunk start, ≤ 1);
//      state passing over chunks (a loop over T/Q chunks, never over tokens): H_{j+1} = P_{j,Q−1}·H_j + u_{j,Q−1}.
//   3. h_l = u_l + P_l·H_j;  y_l = h_l·C_l.
// Padding to a multiple of Q uses Δ = 0 (a = 1, u = 0) and C = 0, so padded steps neither decay nor write the state.
// Memory: the per-token states [B, T, d_in, N] exist for autograd (as in mamba_ssm's selective_scan_ref); the prefix
// scan adds ≈ 2·log₂Q tensors of that size (Q = 16: 8) and never forms [Q, Q, d_in, N] (segsum-style) tensors.
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// Plain tensor math of the Mamba-1 selective scan: chunked prefix scan (training / prefill), the naive recurrence
/// (test oracle) and the one-token step (decode). Decays and states are computed in fp32 (fp64 for fp64 inputs).
/// Shapes: x, Δ [b, t, c]; A [c, n]; B, C [b, t, n]; state [b, c, n].
/// </summary>
public static class Mamba1Kernels
{
    /// <summary>
    /// Chunked selective scan. Δ must already be softplus-ed (0 at tokens that must not touch the state).
    /// Returns y [b, t, c] in x's dtype (without D·x) and the final state [b, c, n] in fp32 (fp64 for fp64 x).
    /// </summary>
    public static (Tensor Y, Tensor FinalState) Chunked(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, int chunkSize, Tensor? initialState)
    {
        if (chunkSize <= 0) throw new ArgumentOutOfRangeException(nameof(chunkSize), "chunk size must be positive");
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], c = x.shape[2], n = A.shape[1];
        var cdt = SsdKernels.ComputeType(x.dtype);
        var h0 = initialState is null ? zeros([b, c, n], cdt, x.device) : initialState.to_type(cdt);
        if (t == 0) return (empty_like(x).MoveToOuterDisposeScope(), h0.clone().MoveToOuterDisposeScope());

        var dtc = dt.to_type(cdt);
        var logDecay = dtc.unsqueeze(-1).mul(A.to_type(cdt));                               // [b,t,c,n] ≤ 0
        var u = x.to_type(cdt).mul(dtc).unsqueeze(-1).mul(B.to_type(cdt).unsqueeze(2));     // [b,t,c,n]
        var cc = C.to_type(cdt);
        long q = Math.Min(chunkSize, t);
        long nc = (t + q - 1) / q;
        long pad = nc * q - t;
        if (pad > 0)
        {
            logDecay = nn.functional.pad(logDecay, [0, 0, 0, 0, 0, pad]);
            u = nn.functional.pad(u, [0, 0, 0, 0, 0, pad]);
            cc = nn.functional.pad(cc, [0, 0, 0, pad]);
        }
        logDecay = logDecay.view(b, nc, q, c, n);
        u = u.view(b, nc, q, c, n);

        // 1. Prefix scan inside every chunk (dimension 2), all chunks at once.
        var a = SsdKernels.DecayExp(logDecay);
        for (long k = 1; k < q; k *= 2)
        {
            var shiftedU = u.narrow(2, 0, q - k);
            var tailA = a.narrow(2, k, q - k);
            u = cat([u.narrow(2, 0, k), u.narrow(2, k, q - k).add(tailA.mul(shiftedU))], 2);
            if (2 * k < q) a = cat([a.narrow(2, 0, k), tailA.mul(a.narrow(2, 0, q - k))], 2);
        }

        // 2. Cumulative decay from each chunk start, and the states entering each chunk.
        var fromStart = SsdKernels.DecayExp(logDecay.cumsum(2));                             // [b,nc,q,c,n]
        var chunkDecay = fromStart.select(2, q - 1);                                         // [b,nc,c,n]
        var chunkEnd = u.select(2, q - 1);
        var entering = new Tensor[nc];
        var state = h0;
        for (long j = 0; j < nc; j++)
        {
            entering[j] = state;
            state = chunkDecay.select(1, j).mul(state).add(chunkEnd.select(1, j));
        }

        // 3. Per-token states and outputs.
        var h = u.add(fromStart.mul(stack(entering, 1).unsqueeze(2)));                      // [b,nc,q,c,n]
        var y = h.matmul(cc.view(b, nc, q, n, 1)).view(b, nc * q, c);
        if (pad > 0) y = y.narrow(1, 0, t);
        y = y.to_type(x.dtype).contiguous();
        return (y.MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope());
    }

    /// <summary>The naive per-token recurrence (test oracle); same shapes and dtypes as <see cref="Chunked"/>; differentiable.</summary>
    public static (Tensor Y, Tensor FinalState) Recurrent(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor? initialState)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], c = x.shape[2], n = A.shape[1];
        var cdt = SsdKernels.ComputeType(x.dtype);
        var state = initialState is null ? zeros([b, c, n], cdt, x.device) : initialState.to_type(cdt);
        var ys = new Tensor[t];
        for (long i = 0; i < t; i++)
            (ys[i], state) = StepCore(x.select(1, i), dt.select(1, i), A, B.select(1, i), C.select(1, i), state);
        var y = t == 0 ? empty_like(x) : stack(ys, 1).to_type(x.dtype);
        if (t == 0) state = state.clone();
        return (y.MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One decode step: x, Δ [b, c], B, C [b, n], state [b, c, n] (fp32 / fp64) updated in place (never part of a graph).
    /// Returns y [b, c] in x's dtype (without D·x).
    /// </summary>
    public static Tensor Step(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor state)
    {
        using var scope = NewDisposeScope();
        var (y, next) = StepCore(x, dt, A, B, C, is_grad_enabled() ? state.clone() : state);
        using (no_grad()) state.copy_(next);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>h' = exp(Δ·A) ⊙ h + (Δ·x) ⊗ B,  y = h'·C.</summary>
    private static (Tensor Y, Tensor State) StepCore(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor state)
    {
        var cdt = state.dtype;
        var dtc = dt.to_type(cdt);                                                          // [b,c]
        var decay = dtc.unsqueeze(-1).mul(A.to_type(cdt)).exp();                            // [b,c,n]
        var u = x.to_type(cdt).mul(dtc).unsqueeze(-1).mul(B.to_type(cdt).unsqueeze(1));     // [b,c,n]
        var next = state.mul(decay).add(u);
        var y = next.matmul(C.to_type(cdt).unsqueeze(-1)).squeeze(-1).to_type(x.dtype);       // [b,c]
        return (y, next);
    }
}
