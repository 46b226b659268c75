"""The mixers and shared pieces of HybridSharp's models, in PyTorch, written from their equations.

Every module keeps the checkpoint names of the C# library, so `load_state_dict` reads a HybridSharp model directory
unchanged. Full-sequence forms only (training and scoring); the twin does not decode token by token.

Shapes: B batch, T tokens, d hidden, H query heads, Hkv key/value heads, P head size, N state size.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def activation(name):
    return {"gelu": F.gelu, "relu": F.relu}.get(name, F.silu)


def compute_dtype(dtype):
    return torch.float64 if dtype == torch.float64 else torch.float32


class RMSNorm(nn.Module):
    """y = w ⊙ x / sqrt(mean(x², −1) + ε), computed in fp32 and cast back before the weight multiply."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.to(compute_dtype(x.dtype))
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return y.to(x.dtype) * self.weight


# ---- rotary tables ------------------------------------------------------------------------------------------------

class Rotary:
    """RoPE, NeoX half-split: inv_freq_i = θ^(−2i/D) (fp64, then fp32), angles p·inv_freq in fp32 (as HF computes
    them), cos/sin of [φ | φ]. Dynamic NTK scaling: θ' = θ·((f·S/M) − (f − 1))^(D/(D−2)) when S = max position + 1 > M."""

    def __init__(self, dim, theta, scaling=None, max_positions=2048):
        self.dim, self.theta, self.scaling, self.max_positions = dim, theta, scaling, max_positions

    def effective_theta(self, max_position):
        if not self.scaling:
            return self.theta
        m = self.scaling.get("original_max_position_embeddings") or self.max_positions
        seq = max_position + 1
        if seq <= m:
            return self.theta
        f = float(self.scaling.get("factor", 1.0))
        return self.theta * (f * seq / m - (f - 1)) ** (self.dim / (self.dim - 2))

    def tables(self, positions, dtype):
        theta = self.effective_theta(int(positions.max())) if self.scaling else self.theta
        angle_type = torch.float64 if dtype == torch.float64 else torch.float32
        idx = torch.arange(0, self.dim, 2, dtype=torch.float64)
        inv = (1.0 / torch.pow(torch.tensor(theta, dtype=torch.float64), idx / self.dim)).to(angle_type)
        freqs = positions.to(angle_type).unsqueeze(-1) * inv
        emb = torch.cat([freqs, freqs], -1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


def rotate(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def logn_factors(positions, dtype):
    """OTCE length scaling s = max(1, ln(64 + i)/ln 4096), i = position + 1; None while every s is exactly 1."""
    if int(positions.max()) < 4096 - 64:
        return None
    f = (positions.to(torch.float64) + 65).log() / math.log(4096)
    return f.clamp_min(1.0).to(compute_dtype(dtype))


def causal_depthwise_conv(x, weight, bias):
    """y_t[c] = Σ_k w[c,k]·x_{t−K+1+k}[c] + b[c] over [B, T, C], zeros before the start."""
    k = weight.shape[-1]
    y = F.conv1d(x.transpose(1, 2), weight, bias, padding=k - 1, groups=x.shape[-1])
    return y[..., :x.shape[1]].transpose(1, 2)


def repeat_kv(x, groups):
    """[B, Hkv, …] → [B, Hkv·g, …]: query head h reads KV head ⌊h/g⌋."""
    return x if groups == 1 else x.repeat_interleave(groups, dim=1)


def attend(q, k, v, bias):
    """softmax_fp32(Q·Kᵀ/√P + bias)·V."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias
    p = torch.softmax(scores.to(compute_dtype(q.dtype)), -1).to(q.dtype)
    return p @ v


def min_value(dtype):
    return torch.finfo(dtype).min


# ---- attention ----------------------------------------------------------------------------------------------------

class Attention(nn.Module):
    """Grouped-query causal self-attention with RoPE (Llama layout); Q ← s·Q with OTCE logn scaling."""

    def __init__(self, cfg):
        super().__init__()
        d, self.h, self.kv, self.p = cfg.hidden_size, cfg.num_attention_heads, cfg.kv_heads, cfg.attention_head_dim
        b = cfg.attention_bias
        self.q_proj = nn.Linear(d, self.h * self.p, bias=b)
        self.k_proj = nn.Linear(d, self.kv * self.p, bias=b)
        self.v_proj = nn.Linear(d, self.kv * self.p, bias=b)
        self.o_proj = nn.Linear(self.h * self.p, d, bias=b)

    def forward(self, x, ctx):
        bsz, t, _ = x.shape
        q = self.q_proj(x).view(bsz, t, self.h, self.p).transpose(1, 2)
        k = self.k_proj(x).view(bsz, t, self.kv, self.p).transpose(1, 2)
        v = self.v_proj(x).view(bsz, t, self.kv, self.p).transpose(1, 2)
        cos, sin = ctx.cos.unsqueeze(1), ctx.sin.unsqueeze(1)
        q = rotate(q, cos, sin)
        if ctx.logn is not None:
            q = (q * ctx.logn[:, None, :, None]).to(x.dtype)
        k = rotate(k, cos, sin)
        g = self.h // self.kv
        o = attend(q, repeat_kv(k, g), repeat_kv(v, g), ctx.causal_bias(x.dtype))
        return self.o_proj(o.transpose(1, 2).reshape(bsz, t, self.h * self.p))


class DynamicMaskAttention(nn.Module):
    """Dynamic Mask Attention (Wonderful Matrices / Doge):
    Δ = softplus(dt_proj(V_flat)) [B, T, Hm];  β[b,m,j] = exp(A_m·Δ[b,j,m]) added to the logits of every visible key;
    a row with more than w = keep_window_size visible keys keeps its w largest entries (ties within a relative 1e-5
    go to the latest keys), the rest → min. Upstream layout: Hm = Hkv (mask head j serves query heads j·g…);
    legacy: Hm = H."""

    TIE = {torch.float64: 1e-12}

    def __init__(self, cfg):
        super().__init__()
        d, self.h, self.kv, self.p = cfg.hidden_size, cfg.num_attention_heads, cfg.kv_heads, cfg.attention_head_dim
        dma = cfg.dma
        self.legacy = dma.layout == "legacy"
        self.mask_heads = self.h if self.legacy else self.kv
        self.window = dma.keep_window_size
        b = cfg.attention_bias
        self.q_proj = nn.Linear(d, self.h * self.p, bias=b)
        self.k_proj = nn.Linear(d, self.kv * self.p, bias=b)
        self.v_proj = nn.Linear(d, self.kv * self.p, bias=b)
        self.o_proj = nn.Linear(self.h * self.p, d, bias=b)
        if dma.qk_norm:
            self.q_norm = RMSNorm(self.p, cfg.rms_norm_eps)
            self.k_norm = RMSNorm(self.p, cfg.rms_norm_eps)
        else:
            self.q_norm = self.k_norm = None
        self.A = nn.Parameter(torch.zeros(self.mask_heads))
        self.dt_proj = nn.Linear(self.kv * self.p, self.mask_heads, bias=b)

    def forward(self, x, ctx):
        bsz, t, _ = x.shape
        q = self.q_proj(x).view(bsz, t, self.h, self.p)
        k = self.k_proj(x).view(bsz, t, self.kv, self.p)
        v_flat = self.v_proj(x)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        cos, sin = ctx.cos.unsqueeze(1), ctx.sin.unsqueeze(1)
        q = rotate(q.transpose(1, 2), cos, sin)
        k = rotate(k.transpose(1, 2), cos, sin)
        v = v_flat.view(bsz, t, self.kv, self.p).transpose(1, 2)
        delta = F.softplus(self.dt_proj(v_flat)).transpose(1, 2)                  # [B, Hm, T]
        beta = torch.exp(self.A.to(delta.dtype).view(1, -1, 1) * delta)           # [B, Hm, Tk]
        visible = ctx.visible(x.device)                                           # [B or 1, 1, T, Tk]
        m = beta.unsqueeze(2).expand(bsz, self.mask_heads, t, t)
        m = m.masked_fill(~visible, min_value(delta.dtype))
        if t > self.window and int(visible.sum(-1).max()) > self.window:
            m = self.keep_largest(m, self.window)
        g = self.h // self.kv
        if not self.legacy:
            m = repeat_kv(m, g)
        o = attend(q, repeat_kv(k, g), repeat_kv(v, g), m)
        return self.o_proj(o.transpose(1, 2).reshape(bsz, t, self.h * self.p))

    @classmethod
    def keep_largest(cls, m, keep):
        tol_rel = cls.TIE.get(m.dtype, 1e-5)
        threshold = m.topk(keep, dim=-1, largest=True, sorted=False).values.amin(-1, keepdim=True)
        tol = threshold.abs() * tol_rel
        above = m > threshold + tol
        need = keep - above.sum(-1, keepdim=True)
        tied = (m >= threshold - tol) & ~above
        from_right = tied.flip(-1).cumsum(-1).flip(-1)
        kept = above | (tied & (from_right <= need))
        return m.masked_fill(~kept, min_value(m.dtype))


# ---- state-space mixers -------------------------------------------------------------------------------------------

def segsum(a):
    """seg[..., l, s] = Σ_{s<r≤l} a_r for l ≥ s, −∞ above the diagonal (summed directly, no cumsum differences)."""
    t = a.shape[-1]
    strict = torch.ones(t, t, dtype=torch.bool, device=a.device).tril(-1)
    lower = torch.ones(t, t, dtype=torch.bool, device=a.device).tril(0)
    m = a.unsqueeze(-1).expand(*a.shape, t).masked_fill(~strict, 0.0)
    return m.cumsum(-2).masked_fill(~lower, -math.inf)


def ssd_scan(x, dt, A, B, C):
    """Mamba-2 SSD over a whole sequence from a zero state, in its quadratic ("attention") form:
    y_l = Σ_{s≤l} (C_l·B_s)·exp(Σ_{s<r≤l} dt_r·A)·dt_s·x_s.  x [B,T,H,P], dt [B,T,H], A [H], B/C [B,T,G,N]."""
    bsz, t, h, p = x.shape
    g = B.shape[2]
    r = h // g
    cdt = compute_dtype(x.dtype)
    a = (dt.to(cdt) * A.to(cdt)).permute(0, 2, 1)                                 # [B, H, T]
    decay = torch.exp(segsum(a))                                                  # [B, H, l, s]
    scores = torch.einsum("blgn,bsgn->bgls", C.to(cdt), B.to(cdt))                # [B, G, l, s]
    scores = scores.repeat_interleave(r, dim=1)                                   # [B, H, l, s]
    xb = (x.to(cdt) * dt.to(cdt).unsqueeze(-1)).permute(0, 2, 1, 3)               # [B, H, T, P]
    y = (scores * decay) @ xb                                                     # [B, H, T, P]
    return y.permute(0, 2, 1, 3).to(x.dtype)


class SsdMixer(nn.Module):
    """Mamba-2 SSD (Dao & Gu 2024) with optional RoPE on B and C and optional conv / gate (Cheems, TransXSSM):
    [z | xBC | dt] = in_proj(u); xBC = SiLU(conv(xBC)) when conv_kernel > 0; B, C ← rot(B), rot(C) with rope;
    dt = clamp(softplus(dt + dt_bias)); A = −exp(A_log); SSD scan; y += D·x; gated: GroupRMSNorm(y ⊙ SiLU(z)) ⊙ w."""

    def __init__(self, cfg):
        super().__init__()
        s = cfg.ssm
        d = cfg.hidden_size
        self.d_in = s.expand * d
        self.p = s.head_dim
        self.h = self.d_in // self.p
        self.n = s.state_size
        self.g = s.n_groups
        self.conv_channels = self.d_in + 2 * self.g * self.n
        self.z_size = self.d_in if s.gated else 0
        self.rope = s.rope
        self.eps = s.norm_eps
        self.limit = s.time_step_limit
        self.in_proj = nn.Linear(d, self.z_size + self.conv_channels + self.h, bias=s.use_bias)
        if s.conv_kernel > 0:
            self.conv1d = nn.Conv1d(self.conv_channels, self.conv_channels, s.conv_kernel, groups=self.conv_channels,
                                    padding=s.conv_kernel - 1, bias=s.use_conv_bias)
        else:
            self.conv1d = None
        self.dt_bias = nn.Parameter(torch.zeros(self.h))
        self.A_log = nn.Parameter(torch.zeros(self.h))
        self.D = nn.Parameter(torch.ones(self.h)) if s.use_d else None
        self.norm = RMSNorm(self.d_in, s.norm_eps) if s.gated else None
        self.out_proj = nn.Linear(self.d_in, d, bias=False)

    def forward(self, x, ctx):
        bsz, t, _ = x.shape
        cdt = compute_dtype(x.dtype)
        proj = self.in_proj(x)
        z = proj[..., :self.z_size] if self.z_size else None
        xbc = proj[..., self.z_size:self.z_size + self.conv_channels]
        dt_raw = proj[..., self.z_size + self.conv_channels:]
        if self.conv1d is not None:
            xbc = F.silu(causal_depthwise_conv(xbc, self.conv1d.weight, self.conv1d.bias))
        xs = xbc[..., :self.d_in].reshape(bsz, t, self.h, self.p)
        bc = xbc[..., self.d_in:].reshape(bsz, t, 2 * self.g, self.n)
        if self.rope:
            bc = rotate(bc, ctx.cos.unsqueeze(2), ctx.sin.unsqueeze(2))
        B, C = bc[:, :, :self.g], bc[:, :, self.g:]
        dt = F.softplus(dt_raw.to(cdt) + self.dt_bias.to(cdt))
        lo, hi = self.limit
        if lo > 0 or not math.isinf(hi):
            dt = dt.clamp(lo, hi)
        A = -torch.exp(self.A_log.to(cdt))
        y = ssd_scan(xs, dt, A, B, C)
        if self.D is not None:
            y = y + xs * self.D.to(x.dtype).unsqueeze(-1)
        y = y.reshape(bsz, t, self.d_in)
        if self.norm is not None:
            yf = y.to(cdt) * F.silu(z.to(cdt))
            grouped = yf.reshape(bsz, t, self.g, self.d_in // self.g)
            grouped = grouped * torch.rsqrt(grouped.pow(2).mean(-1, keepdim=True) + self.eps)
            y = (grouped.reshape(bsz, t, self.d_in) * self.norm.weight.to(cdt)).to(x.dtype)
        return self.out_proj(y)


class Mamba1Mixer(nn.Module):
    """Mamba-1 selective scan in OTCE's form: [x | z] = in_proj(u); x = SiLU(conv(x)); [dt | B | C] = x_proj(x),
    each RMS-normed (inner layernorms); B, C ← rot(B), rot(C); C ← s·C (logn); Δ = softplus(dt_proj(dt));
    h_t = exp(Δ_t·A) ⊙ h_{t−1} + (Δ_t·x_t) ⊗ B_t, y_t = h_t·C_t + D ⊙ x_t; out = out_proj(y ⊙ SiLU(z))."""

    def __init__(self, cfg):
        super().__init__()
        s = cfg.mamba1
        d = cfg.hidden_size
        self.d_in = s.expand * d
        self.n = s.state_size
        self.rank = cfg.mamba1_rank()
        self.rope = s.rope
        self.eps = s.norm_eps
        self.in_proj = nn.Linear(d, 2 * self.d_in, bias=s.use_proj_bias)
        self.conv1d = nn.Conv1d(self.d_in, self.d_in, s.conv_kernel, groups=self.d_in, padding=s.conv_kernel - 1,
                                bias=s.use_conv_bias)
        self.x_proj = nn.Linear(self.d_in, self.rank + 2 * self.n, bias=False)
        self.dt_proj = nn.Linear(self.rank, self.d_in, bias=s.use_proj_bias)
        self.A_log = nn.Parameter(torch.zeros(self.d_in, self.n))
        self.D = nn.Parameter(torch.ones(self.d_in))
        if s.inner_layernorms:
            self.dt_layernorm = RMSNorm(self.rank, s.norm_eps)
            self.B_layernorm = RMSNorm(self.n, s.norm_eps)
            self.C_layernorm = RMSNorm(self.n, s.norm_eps)
        else:
            self.dt_layernorm = self.B_layernorm = self.C_layernorm = None
        self.out_proj = nn.Linear(self.d_in, d, bias=s.use_proj_bias)

    def forward(self, x, ctx):
        bsz, t, _ = x.shape
        cdt = compute_dtype(x.dtype)
        proj = self.in_proj(x)
        xs, z = proj[..., :self.d_in], proj[..., self.d_in:]
        xs = F.silu(causal_depthwise_conv(xs, self.conv1d.weight, self.conv1d.bias))
        dbc = self.x_proj(xs)
        dt_low, B, C = dbc[..., :self.rank], dbc[..., self.rank:self.rank + self.n], dbc[..., self.rank + self.n:]
        if self.dt_layernorm is not None:
            dt_low, B, C = self.dt_layernorm(dt_low), self.B_layernorm(B), self.C_layernorm(C)
        if self.rope:
            cos, sin = ctx.state_tables(self.n, x.dtype)
            B, C = rotate(B, cos, sin), rotate(C, cos, sin)
        if ctx.logn is not None:
            C = C * ctx.logn.unsqueeze(-1)
        dt = F.softplus(self.dt_proj(dt_low).to(cdt))                              # [B, T, d_in]
        A = -torch.exp(self.A_log.to(cdt))                                         # [d_in, N]
        xc, Bc, Cc = xs.to(cdt), B.to(cdt), C.to(cdt)
        state = torch.zeros(bsz, self.d_in, self.n, dtype=cdt, device=x.device)
        ys = []
        for i in range(t):
            d_i = dt[:, i].unsqueeze(-1)                                           # [B, d_in, 1]
            state = torch.exp(d_i * A) * state + (d_i * xc[:, i].unsqueeze(-1)) * Bc[:, i].unsqueeze(1)
            ys.append((state @ Cc[:, i].unsqueeze(-1)).squeeze(-1))
        y = torch.stack(ys, 1).to(x.dtype)
        y = y + xs * self.D.to(x.dtype)
        return self.out_proj(y * F.silu(z))


MIXERS = {"attention": ("self_attn", Attention), "dma": ("self_attn", DynamicMaskAttention),
          "ssd": ("mamba", SsdMixer), "mamba1": ("mamba", Mamba1Mixer)}
