// SSD (state space duality) kernels of Mamba-2 (Dao & Gu 2024, "Transformers are SSMs", arXiv 2405.21060).
// Per head h (A_h < 0), with B_t, C_t ∈ ℝ^N of group g(h) = ⌊h / (H/G)⌋ and x_t ∈ ℝ^P:
//   a_t = dt_t·A_h,  x̄_t = dt_t·x_t,  h_t = e^{a_t}·h_{t−1} + x̄_t·B_tᵀ  (h ∈ ℝ^{P×N}),  y_t = h_t·C_t
// Chunked ("matrix") form over chunks of length Q, cum_c[l] = Σ_{r≤l} a_{cQ+r}:
//   Y_diag[c,l] = Σ_{s≤l} (C_{c,l}·B_{c,s}) · exp(segsum(a_c))[l,s] · x̄_{c,s}
//   S_c = Σ_s exp(cum_c[Q−1] − cum_c[s]) · x̄_{c,s}·B_{c,s}ᵀ,   H_{c+1} = exp(cum_c[Q−1])·H_c + S_c  (H_0 = initial state)
//   Y_off[c,l] = exp(cum_c[l]) · H_c·C_{c,l},   y = Y_diag + Y_off   (the D·x skip term is added by the caller)
// segsum(a)[l,s] = Σ_{r=s+1..l} a_r for l ≥ s, −∞ above the diagonal (summed directly, no cumsum differences).
using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// Plain tensor math of the SSD layer: the chunked algorithm (training / prefill), the naive recurrence (oracle) and
/// the one-token step (decode). Decay terms (a, cumsums, exps) and the state are computed in fp32, or in fp64 when
/// the inputs are fp64; outputs are returned in the dtype of <c>x</c>.
/// </summary>
public static class SsdKernels
{
    /// <summary>fp64 for fp64 inputs, fp32 otherwise (bf16/fp16/fp32).</summary>
    public static ScalarType ComputeType(ScalarType t) => t == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>
    /// Numerically stable segment sum over the last dimension: a [..., Q] → [..., Q, Q] with
    /// out[..., l, s] = Σ_{r=s+1..l} a[..., r] for l ≥ s (0 on the diagonal) and −∞ for l &lt; s.
    /// </summary>
    public static Tensor Segsum(Tensor a)
    {
        using var scope = NewDisposeScope();
        long q = a.shape[^1];
        var shape = a.shape.Append(q).ToArray();
        var strictLower = ones(q, q, dtype: ScalarType.Bool, device: a.device).tril(-1);
        var lower = ones(q, q, dtype: ScalarType.Bool, device: a.device).tril(0);
        // M[l, s] = a_l where l > s, else 0; summing down l gives Σ_{s<r≤l} a_r.
        var m = a.unsqueeze(-1).expand(shape).masked_fill(strictLower.logical_not(), 0.0);
        var seg = m.cumsum(-2).masked_fill(lower.logical_not(), double.NegativeInfinity);
        return seg.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// exp(segsum(a)) on and below the diagonal, with fewer full-size passes than <see cref="DecayExp"/>(<see cref="Segsum"/>(a)):
    /// the strictly-lower running sums are built by one masked product and one cumsum, and the entries above the diagonal
    /// are left at e⁰ = 1 — the caller multiplies by a causally masked factor. In fp32 log-decays are clamped at −40
    /// (e^−40 ≈ 4e−18, below fp32 resolution of any sum it enters) so nothing reaches the slow denormal range.
    /// </summary>
    public static Tensor IntraChunkDecay(Tensor a)
    {
        using var scope = NewDisposeScope();
        long q = a.shape[^1];
        var strictLower = ones(q, q, dtype: a.dtype, device: a.device).tril_(-1);
        var seg = a.unsqueeze(-1).mul(strictLower).cumsum(-2);        // [..., l, s] = Σ_{s<r≤l} a_r, 0 for l ≤ s
        var decay = a.dtype == ScalarType.Float64 ? seg.exp() : seg.clamp_min(IntraChunkLogDecayFloor).exp();
        return decay.MoveToOuterDisposeScope();
    }

    /// <summary>Clamp of fp32 log-decays inside a chunk (see <see cref="IntraChunkDecay"/>).</summary>
    public const double IntraChunkLogDecayFloor = -40.0;

    /// <summary>Log-decays below this (fp32) are treated as −∞: e^−60 ≈ 9e−27 is far below fp32 resolution of any sum.</summary>
    public const double Fp32LogDecayFloor = -60.0;

    /// <summary>
    /// exp of log-decays (≤ 0). In fp32, values below <see cref="Fp32LogDecayFloor"/> become exactly 0 instead of
    /// drifting into the denormal range (e^−87 … e^−103), where x86 arithmetic — and every matmul that touches such
    /// values, forward and backward — runs many times slower. fp64 is left exact.
    /// </summary>
    public static Tensor DecayExp(Tensor logDecay) =>
        logDecay.dtype == ScalarType.Float64
            ? logDecay.exp()
            : logDecay.masked_fill(logDecay.lt(Fp32LogDecayFloor), double.NegativeInfinity).exp_();

    /// <summary>
    /// Chunked SSD. x [b,t,h,p], dt [b,t,h] (after softplus/clamp; 0 at tokens that must not touch the state),
    /// A [h] (negative), B and C [b,t,g,n], initialState [b,h,p,n] or null (zeros).
    /// Returns y [b,t,h,p] in x's dtype (without the D term) and the final state [b,h,p,n] in fp32 (fp64 for fp64 x).
    /// </summary>
    public static (Tensor Y, Tensor FinalState) Chunked(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, int chunkSize, Tensor? initialState)
    {
        if (chunkSize <= 0) throw new ArgumentOutOfRangeException(nameof(chunkSize), "chunk size must be positive");
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], h = x.shape[2], p = x.shape[3];
        long g = B.shape[2], n = B.shape[3];
        CheckShapes(h, g);
        long r = h / g;
        var cdt = ComputeType(x.dtype);

        var h0 = initialState is null ? zeros([b, h, p, n], cdt, x.device) : initialState.to_type(cdt);
        if (t == 0)
            return (empty_like(x).MoveToOuterDisposeScope(), h0.clone().MoveToOuterDisposeScope());

        // Discretise, then pad to a multiple of Q with a = 0, x̄ = 0, B = C = 0 (padded steps neither decay nor write).
        var dtc = dt.to_type(cdt);
        var a = dtc.mul(A.to_type(cdt));                               // [b,t,h]
        var xb = x.to_type(cdt).mul(dtc.unsqueeze(-1));                // [b,t,h,p]
        var bc = B.to_type(cdt);
        var cc = C.to_type(cdt);
        long q = Math.Min(chunkSize, t);
        long nc = (t + q - 1) / q;
        long pad = nc * q - t;
        if (pad > 0)
        {
            a = nn.functional.pad(a, [0, 0, 0, pad]);
            xb = nn.functional.pad(xb, [0, 0, 0, 0, 0, pad]);
            bc = nn.functional.pad(bc, [0, 0, 0, 0, 0, pad]);
            cc = nn.functional.pad(cc, [0, 0, 0, 0, 0, pad]);
        }

        // Chunk layouts (heads split into g groups of r): x̄ [b,c,g,r,q,p], a [b,c,g,r,q], B/C [b,c,g,q,n].
        var xs = xb.view(b, nc, q, g, r, p).permute(0, 1, 3, 4, 2, 5);
        var ac = a.view(b, nc, q, g, r).permute(0, 1, 3, 4, 2);
        var bs = bc.view(b, nc, q, g, n).permute(0, 1, 3, 2, 4);
        var cs = cc.view(b, nc, q, g, n).permute(0, 1, 3, 2, 4);

        var cum = ac.cumsum(-1);                                       // [b,c,g,r,q]
        var decay = IntraChunkDecay(ac);                               // L = exp(segsum) [b,c,g,r,q(l),q(s)], upper triangle unmasked

        // 1. Diagonal blocks: (C_l·B_s) ⊙ L[l,s] applied to x̄; the causal mask goes on the r-times smaller scores.
        var causal = ones(q, q, dtype: cdt, device: x.device).tril_(0);
        var scores = cs.matmul(bs.transpose(-1, -2)).mul_(causal).unsqueeze(3); // [b,c,g,1,l,s]
        var yDiag = scores.mul(decay).matmul(xs);                      // [b,c,g,r,l,p]

        // 2. Chunk states: weights exp(Σ_{r=s+1..Q−1} a_r) = last row of L (no cumsum differences).
        var toEnd = decay.select(-2, q - 1);                           // [b,c,g,r,s]
        var states = einsum("bcgsn,bcgrsp->bcgrpn", bs, xs.mul(toEnd.unsqueeze(-1)));

        // 3. State passing across chunks (matrix form, includes the initial state).
        var totals = cum.select(-1, q - 1).permute(0, 2, 3, 1);        // [b,g,r,c]
        var chunkDecay = DecayExp(Segsum(nn.functional.pad(totals, [1, 0]))); // [b,g,r,nc+1,nc+1]
        var allStates = cat([h0.reshape(b, g, r, 1, p * n), states.permute(0, 2, 3, 1, 4, 5).reshape(b, g, r, nc, p * n)], 3);
        var passed = chunkDecay.matmul(allStates);                     // [b,g,r,nc+1,p·n]: H_0 … H_nc
        var entering = passed.narrow(3, 0, nc).view(b, g, r, nc, p, n).permute(0, 3, 1, 2, 4, 5); // [b,c,g,r,p,n]
        var final = passed.select(3, nc).reshape(b, h, p, n);

        // 4. Off-diagonal output: exp(cum[l]) · H_c·C_l.
        var yOff = einsum("bcgln,bcgrpn->bcgrlp", cs, entering).mul_(DecayExp(cum).unsqueeze(-1));

        var y = yDiag.add_(yOff).permute(0, 1, 4, 2, 3, 5).reshape(b, nc * q, h, p);
        if (pad > 0) y = y.narrow(1, 0, t);
        y = y.to_type(x.dtype).contiguous();
        return (y.MoveToOuterDisposeScope(), final.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The naive per-timestep recurrence (test oracle). Same shapes and dtypes as <see cref="Chunked"/>.
    /// Differentiable (no in-place state updates).
    /// </summary>
    public static (Tensor Y, Tensor FinalState) Recurrent(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor? initialState)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], h = x.shape[2], p = x.shape[3];
        long n = B.shape[3];
        CheckShapes(h, B.shape[2]);
        var cdt = ComputeType(x.dtype);
        var state = initialState is null ? zeros([b, h, p, n], cdt, x.device) : initialState.to_type(cdt);
        var ys = new Tensor[t];
        for (long i = 0; i < t; i++)
        {
            (ys[i], state) = StepCore(x.select(1, i), dt.select(1, i), A, B.select(1, i), C.select(1, i), state);
        }
        var y = t == 0 ? empty_like(x) : stack(ys, 1).to_type(x.dtype);
        if (t == 0) state = state.clone();
        return (y.MoveToOuterDisposeScope(), state.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One decode step: x [b,h,p], dt [b,h], A [h], B and C [b,g,n], state [b,h,p,n] (fp32 or fp64), updated in place
    /// (the stored state is never part of an autograd graph). Returns y [b,h,p] in x's dtype (without the D term).
    /// </summary>
    public static Tensor Step(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor state)
    {
        using var scope = NewDisposeScope();
        CheckShapes(x.shape[1], B.shape[1]);
        // Under autograd the product below saves its input; work on a copy so the in-place update cannot
        // invalidate the graph of this step.
        var (y, next) = StepCore(x, dt, A, B, C, is_grad_enabled() ? state.clone() : state);
        using (no_grad()) state.copy_(next);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>h' = e^{dt·A}·h + (dt·x) ⊗ B_{g(h)},  y = h'·C_{g(h)}; returns (y in x's dtype, h' in state's dtype).</summary>
    private static (Tensor Y, Tensor State) StepCore(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor state)
    {
        long b = x.shape[0], h = x.shape[1], p = x.shape[2];
        long g = B.shape[1], n = B.shape[2];
        long r = h / g;
        var cdt = state.dtype;
        var dtc = dt.to_type(cdt);                                         // [b,h]
        var dA = dtc.mul(A.to_type(cdt)).exp_().view(b, g, r, 1, 1);
        var xb = x.to_type(cdt).mul(dtc.unsqueeze(-1)).view(b, g, r, p, 1);
        var bg = B.to_type(cdt).view(b, g, 1, 1, n);
        var cg = C.to_type(cdt).view(b, g, 1, n, 1);
        var next = state.view(b, g, r, p, n).mul(dA).add_(xb.mul(bg));   // [b,g,r,p,n]
        var y = MatVec.Apply(next, cg).reshape(b, h, p).to_type(x.dtype);
        return (y, next.view(b, h, p, n));
    }

    private static void CheckShapes(long heads, long groups)
    {
        if (groups <= 0 || heads % groups != 0)
            throw new ArgumentException($"SSD: the number of groups ({groups}) must divide the number of heads ({heads})");
    }
}
