"""Feed-forward networks of HybridSharp's models: SwiGLU, OTCE's MLP and the four mixtures of experts.

Mixtures of experts report routing statistics (counts of (token, choice) assignments and summed router
probabilities per expert) so the model can add the Switch load-balancing loss L = E·Σ_e f_e·P_e.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import activation


def router_dtype(dtype):
    return torch.float64 if dtype == torch.float64 else torch.float32


class RoutingStats:
    def __init__(self, counts, prob_sums, tokens, choices):
        self.counts, self.prob_sums, self.tokens, self.choices = counts, prob_sums, tokens, choices

    @staticmethod
    def from_probs(probs, experts):
        n, e = probs.shape
        return RoutingStats(count_assignments(experts, e), probs.float().sum(0), n, experts.shape[1])


def aux_loss(stats):
    """Switch loss over all MoE layers of a forward pass, grouped by expert count (HF load_balancing_loss_func)."""
    total = None
    by_e = {}
    for s in stats:
        by_e.setdefault(s.counts.shape[0], []).append(s)
    for e, group in by_e.items():
        tokens = sum(s.tokens for s in group)
        assignments = sum(s.tokens * s.choices for s in group)
        f = sum(s.counts for s in group) / assignments
        p = sum(s.prob_sums for s in group) / tokens
        term = (f * p).sum() * e
        total = term if total is None else total + term
    return total


class SwiGluMlp(nn.Module):
    """down_proj(act(gate_proj(x)) ⊙ up_proj(x))."""

    def __init__(self, d, inter, bias, act):
        super().__init__()
        self.act = activation(act)
        self.gate_proj = nn.Linear(d, inter, bias=bias)
        self.up_proj = nn.Linear(d, inter, bias=bias)
        self.down_proj = nn.Linear(inter, d, bias=bias)

    def forward(self, x, routing=None):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class OtceMlp(nn.Module):
    """down_proj(tanh(up_proj(x)) ⊙ SiLU(gate_proj(x)))."""

    def __init__(self, d, inter, bias):
        super().__init__()
        self.gate_proj = nn.Linear(d, inter, bias=bias)
        self.up_proj = nn.Linear(d, inter, bias=bias)
        self.down_proj = nn.Linear(inter, d, bias=bias)

    def forward(self, x, routing=None):
        return self.down_proj(torch.tanh(self.up_proj(x)) * F.silu(self.gate_proj(x)))


def select_experts(rx, ry, k, num_keys, norm_topk_prob=False):
    """Product-key retrieval: top-k' of each half (k' = min(k, Kk)), the k'² sums, their top-k; w = softmax (fp32)."""
    kp = min(k, num_keys)
    sx, ix = rx.topk(kp, dim=-1)
    sy, iy = ry.topk(kp, dim=-1)
    flat = list(rx.shape[:-1]) + [kp * kp]
    cand = (sx.unsqueeze(-1) + sy.unsqueeze(-2)).reshape(flat)
    ids = (ix.unsqueeze(-1) * num_keys + iy.unsqueeze(-2)).reshape(flat)
    s, pos = cand.topk(k, dim=-1)
    experts = ids.gather(-1, pos)
    w = torch.softmax(s.to(router_dtype(s.dtype)), -1)
    if norm_topk_prob:
        w = w / w.sum(-1, keepdim=True)
    return w, experts


def rank_one_experts(x, weights, experts, down_embed, up_embed, act):
    """Σ_j act(⟨x, down_embed[e_j]⟩)·w_j·up_embed[e_j] (each expert a d → 1 → d MLP)."""
    a = torch.bmm(down_embed(experts), x.unsqueeze(-1)).squeeze(-1)
    a = act(a) * weights
    return torch.bmm(a.unsqueeze(1), up_embed(experts)).squeeze(1)


def count_assignments(experts, num_experts):
    """How many (token, choice) assignments each expert got."""
    flat = experts.reshape(-1)
    return torch.zeros(num_experts, device=flat.device).index_add_(0, flat, torch.ones(flat.numel(), device=flat.device))


class RankOneExperts(nn.Module):
    """What both cross-domain MoEs share: a SwiGLU every token passes through (the dense MLP's names) and E rank-1
    experts in down_embed / up_embed; the subclasses choose the experts."""

    def __init__(self, cfg):
        super().__init__()
        d, inter = cfg.hidden_size, cfg.intermediate_size
        self.e = cfg.moe.num_experts
        self.act = activation(cfg.hidden_act)
        self.gate_proj = nn.Linear(d, inter, bias=cfg.mlp_bias)
        self.up_proj = nn.Linear(d, inter, bias=cfg.mlp_bias)
        self.down_proj = nn.Linear(inter, d, bias=cfg.mlp_bias)
        self.down_embed = nn.Embedding(self.e, d)
        self.up_embed = nn.Embedding(self.e, d)

    def mix(self, x2, weights, experts):
        shared = self.down_proj(self.act(self.gate_proj(x2)) * self.up_proj(x2))
        return shared + rank_one_experts(x2, weights.to(x2.dtype), experts, self.down_embed, self.up_embed, self.act)


class CrossDomainMoe(RankOneExperts):
    """Doge's CDMoE: shared SwiGLU + rank-1 experts chosen by product keys from router_gate(x) = [r_x | r_y]."""

    def __init__(self, cfg):
        super().__init__(cfg)
        m = cfg.moe
        self.k, self.norm = m.num_experts_per_tok, m.norm_topk_prob
        self.keys = int(round(self.e ** 0.5))
        self.upstream_view = m.cdmoe_upstream_router_view
        self.router_gate = nn.Linear(cfg.hidden_size, 2 * self.keys, bias=False)

    def forward(self, x, routing=None):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        n = x2.shape[0]
        logits = self.router_gate(x2)
        v = logits.reshape(2, n, self.keys) if self.upstream_view else logits.view(n, 2, self.keys).transpose(0, 1)
        rx, ry = v[0], v[1]
        w, e = select_experts(rx, ry, self.k, self.keys, self.norm)
        y = self.mix(x2, w, e)
        if routing is not None:
            px, py = torch.softmax(rx.float(), -1), torch.softmax(ry.float(), -1)
            if self.upstream_view:
                px, py = px.sort(-1, descending=True).values, py.sort(-1, descending=True).values
            routing.append(RoutingStats(count_assignments(e, self.e), (px.t() @ py).reshape(-1), n, self.k))
        return y.view(shape)


class MultiHeadCrossDomainMoe(RankOneExperts):
    """Cheems' multi-head CDMoE: per head, similarities of queries(x) with product keys pick k_h experts."""

    def __init__(self, cfg):
        super().__init__(cfg)
        m = cfg.moe
        self.nk = int(round(self.e ** 0.5))
        self.heads, self.per_head, self.r = m.num_cdmoe_heads, m.num_cdmoe_experts_per_head, m.expert_retrieval_size
        self.queries = nn.Linear(cfg.hidden_size, self.heads * self.r, bias=False)
        self.keys = nn.Parameter(torch.zeros(self.heads, self.nk, 2, self.r // 2))

    def forward(self, x, routing=None):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        n = x2.shape[0]
        q = self.queries(x2).view(n, 2, self.heads, self.r // 2)
        sim = torch.einsum("nphr,hkpr->pnhk", q, self.keys)
        w, e = select_experts(sim[0], sim[1], self.per_head, self.nk)
        y = self.mix(x2, w.reshape(n, -1), e.reshape(n, -1))
        if routing is not None:
            px, py = torch.softmax(sim[0].float(), -1), torch.softmax(sim[1].float(), -1)
            probs = torch.einsum("nhi,nhj->ij", px, py).reshape(-1) / self.heads
            routing.append(RoutingStats(count_assignments(e, self.e), probs, n, self.heads * self.per_head))
        return y.view(shape)


class Expert(nn.Module):
    def __init__(self, d, inter):
        super().__init__()
        self.gate_proj = nn.Linear(d, inter, bias=False)
        self.up_proj = nn.Linear(d, inter, bias=False)
        self.down_proj = nn.Linear(inter, d, bias=False)


class MixtureOfExperts(nn.Module):
    """Top-k softmax mixture of SwiGLU experts (the MoE baseline): p = softmax(router(x)), (w, e) = topk(p, k)."""

    def __init__(self, cfg):
        super().__init__()
        m = cfg.moe
        d = cfg.hidden_size
        inter = m.moe_intermediate_size or cfg.intermediate_size
        self.e, self.k, self.norm = m.num_experts, m.num_experts_per_tok, m.norm_topk_prob
        self.act = activation(cfg.hidden_act)
        self.router = nn.Linear(d, self.e, bias=False)
        self.experts = nn.ModuleList([Expert(d, inter) for _ in range(self.e)])

    def forward(self, x, routing=None):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        probs = torch.softmax(self.router(x2).to(router_dtype(x.dtype)), -1)
        w, e = probs.topk(self.k, dim=-1)
        if self.norm:
            w = w / w.sum(-1, keepdim=True)
        w = w.to(x.dtype)
        y = torch.zeros_like(x2)
        for j, ex in enumerate(self.experts):
            token, choice = (e == j).nonzero(as_tuple=True)
            if token.numel() == 0:
                continue
            xs = x2[token]
            out = ex.down_proj(self.act(ex.gate_proj(xs)) * ex.up_proj(xs))
            y = y.index_add(0, token, out * w[token, choice].unsqueeze(1))
        if routing is not None:
            routing.append(RoutingStats.from_probs(probs, e))
        return y.view(shape)


class OtceExpert(nn.Module):
    def __init__(self, d, inter, expansive, bias):
        super().__init__()
        self.gate_proj = nn.Linear(d, inter, bias=bias)
        if expansive:
            self.up_proj = nn.Linear(d, inter, bias=bias)
            self.shared_expert_gate = nn.Linear(d, 1, bias=False)
        self.down_proj = nn.Linear(inter, d, bias=bias)


class OtceMoe(nn.Module):
    """OTCE's cross-domain MoE: router probabilities (not renormalised) weight the chosen experts.
    expansive: s = shared OTCE MLP(x); expert_j = OTCE MLP_j(σ(gate_j(s))·s).
    cohesive: expert_j = down_j(tanh(shared_up(x)) ⊙ SiLU(gate_j(x)))."""

    def __init__(self, cfg):
        super().__init__()
        m = cfg.moe
        d, inter, bias = cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias
        self.e, self.k = m.num_experts, m.num_experts_per_tok
        self.expansive = m.otce_moe_kind == "expansive"
        half = inter // 2
        self.router = nn.Linear(d, self.e, bias=False)
        if self.expansive:
            self.shared_gate_proj = nn.Linear(d, inter, bias=bias)
            self.shared_up_proj = nn.Linear(d, inter, bias=bias)
            self.shared_down_proj = nn.Linear(inter, d, bias=bias)
        else:
            self.shared_up_proj = nn.Linear(d, half, bias=bias)
        self.experts = nn.ModuleList([OtceExpert(d, half, self.expansive, bias) for _ in range(self.e)])

    def run(self, j, x, shared):
        ex = self.experts[j]
        if self.expansive:
            g = shared * torch.sigmoid(ex.shared_expert_gate(shared))
            return ex.down_proj(torch.tanh(ex.up_proj(g)) * F.silu(ex.gate_proj(g)))
        return ex.down_proj(shared * F.silu(ex.gate_proj(x)))

    def forward(self, x, routing=None):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        probs = torch.softmax(self.router(x2).to(router_dtype(x.dtype)), -1)
        w, e = probs.topk(self.k, dim=-1)
        w = w.to(x.dtype)
        if self.expansive:
            shared = self.shared_down_proj(torch.tanh(self.shared_up_proj(x2)) * F.silu(self.shared_gate_proj(x2)))
        else:
            shared = torch.tanh(self.shared_up_proj(x2))
        y = torch.zeros_like(x2)
        for j in range(self.e):
            token, choice = (e == j).nonzero(as_tuple=True)
            if token.numel() == 0:
                continue
            out = self.run(j, x2[token], shared[token])
            y = y.index_add(0, token, out * w[token, choice].unsqueeze(1))
        if routing is not None:
            routing.append(RoutingStats.from_probs(probs, e))
        return y.view(shape)


def make_ffn(cfg, kind):
    d, inter = cfg.hidden_size, cfg.intermediate_size
    if kind == "mlp":
        return SwiGluMlp(d, inter, cfg.mlp_bias, cfg.hidden_act)
    if kind == "otce_mlp":
        return OtceMlp(d, inter, cfg.mlp_bias)
    return {"cdmoe": CrossDomainMoe, "cdmoe_mh": MultiHeadCrossDomainMoe, "moe": MixtureOfExperts, "otce_moe": OtceMoe}[kind](cfg)
