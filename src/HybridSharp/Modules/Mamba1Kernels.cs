// Selective scan of Mamba-1 (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
// arXiv 2312.00752), the form used by OTCE (arXiv 2406.16495). Per channel c ∈ [0, d_in) and state n ∈ [0, N):
//   a_t[c,n] = exp(Δ_t[c]·A[c,n])  (A < 0),   u_t[c,n] = Δ_t[c]·x_t[c]·B_t[n]
//   h_t = a_t ⊙ h_{t−1} + u_t,     y_t[c] = Σ_n C_t[n]·h_t[c,n]          (the D·x skip term is added by the caller)
// A is per (channel, state), so the scalar-decay SSD chunking of Mamba-2 does not apply. Training / prefill uses a
// two-level scan built from tensor operations, with Q steps inside the chunks and T/Q steps across them (never T):
//   1. for l = 0 … Q−1, at position l of every chunk at once: the local state h_l = a_l ⊙ h_{l−1} + u_l from a zero
//      state at the chunk start, its output C_l·h_l, and the cumulative decay P_l = exp(Σ_{r≤l} log a_r) (≤ 1);
//   2. for chunk j = 0 … T/Q−1: H_{j+1} = P_{Q−1}·H_j + h_{Q−1} (the state entering each chunk);
//   3. y_l = C_l·h_l + C_l·(P_l ⊙ H_j).
// Only products of decays ≤ 1 and sums occur (no exp(−cumsum) factor that overflows): exact up to rounding for any
// Δ·A. In fp32 decays below e^−60 are floored there (never denormal). Every tensor op touches [B, T/Q, d_in, N]: the
// scan reads and writes the per-token states about a dozen times in all, against ≈ 25 for a log-depth prefix scan
// (Hillis–Steele) with the same Q. Padding to a multiple of Q uses Δ = 0 (a = 1, u = 0) and C = 0, so padded steps
// neither decay nor write the state.
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// Plain tensor math of the Mamba-1 selective scan: two-level chunked scan (training / prefill), the naive recurrence
/// (test oracle) and the one-token step (decode). Decays and states are computed in fp32 (fp64 for fp64 inputs).
/// Shapes: x, Δ [b, t, c]; A [c, n]; B, C [b, t, n]; state [b, c, n].
/// </summary>
public static class Mamba1Kernels
{
    /// <summary>exp of a log-decay ≤ 0; in fp32 floored at e^−60 so that no product of decays and states turns denormal.</summary>
    private static Tensor FlooredExp(Tensor logDecay) =>
        logDecay.dtype == ScalarType.Float64 ? logDecay.exp() : logDecay.clamp_min(SsdKernels.Fp32LogDecayFloor).exp();

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

        long q = Math.Min(chunkSize, t);
        long nc = (t + q - 1) / q;
        long pad = nc * q - t;
        var dtc = dt.to_type(cdt);
        var v = x.to_type(cdt).mul(dtc);                                                     // Δ·x [b,t,c]
        var bc = B.to_type(cdt);
        var cc = C.to_type(cdt);
        if (pad > 0)
        {
            dtc = nn.functional.pad(dtc, [0, 0, 0, pad]);
            v = nn.functional.pad(v, [0, 0, 0, pad]);
            bc = nn.functional.pad(bc, [0, 0, 0, pad]);
            cc = nn.functional.pad(cc, [0, 0, 0, pad]);
        }
        dtc = dtc.view(b, nc, q, c);
        v = v.view(b, nc, q, c);
        bc = bc.view(b, nc, q, 1, n);
        cc = cc.view(b, nc, q, n, 1);
        var a = A.to_type(cdt);

        // 1. Position l = 0 … Q−1 of every chunk at once: the local state from a zero state at the chunk start, its
        //    output, and the cumulative decay P_l from the chunk start.
        var yLocal = new Tensor[q];
        var fromStart = new Tensor[q];
        Tensor? h = null, cum = null;
        for (long l = 0; l < q; l++)
        {
            var logDecay = dtc.select(2, l).unsqueeze(-1).mul(a);                            // [b,nc,c,n]
            var u = v.select(2, l).unsqueeze(-1).mul(bc.select(2, l));                       // [b,nc,c,n]
            h = h is null ? u : u.addcmul(FlooredExp(logDecay), h, 1);
            cum = cum is null ? logDecay : cum.add(logDecay);
            fromStart[l] = FlooredExp(cum);
            yLocal[l] = MatVec.Apply(h, cc.select(2, l));                                             // [b,nc,c,1]
        }

        // 2. Chunk to chunk: H_{j+1} = P_{Q−1,j}·H_j + h_{Q−1,j}.
        var entering = new Tensor[nc];
        var state = h0;
        for (long j = 0; j < nc; j++)
        {
            entering[j] = state;
            state = fromStart[q - 1].select(1, j).mul(state).add(h!.select(1, j));
        }
        var enteringAll = stack(entering, 1);                                                // [b,nc,c,n]

        // 3. y_l = C_l·(h_l + P_l ⊙ H_j).
        var ys = new Tensor[q];
        for (long l = 0; l < q; l++)
            ys[l] = yLocal[l].add(MatVec.Apply(fromStart[l].mul(enteringAll), cc.select(2, l))).squeeze(-1);
        var y = stack(ys, 2).view(b, nc * q, c);
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
        var y = MatVec.Apply(next, C.to_type(cdt).unsqueeze(-1)).squeeze(-1).to_type(x.dtype);  // [b,c]
        return (y, next);
    }
}
