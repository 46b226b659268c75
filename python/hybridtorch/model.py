"""The decoder-only language model of HybridSharp, and reading / writing its model directory.

Per layer (pre-norm, optional learnable residual vectors r₁, r₂ of Doge / Cheems / TransXSSM):
    h = r₁ ⊙ h + Mixer(RMSNorm(h));   h = r₂ ⊙ h + FFN(RMSNorm(h))
OTCE Expresser layers then apply h = RMSNorm_pd(h) + h₀; h = projection(act(dense(h))).
One rotary table serves every layer (Unified RoPE): attention rotates Q/K with it, SSD rotates B/C.
"""

import os
import shutil

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import safetensors_io
from .config import load_config
from .ffn import aux_loss, make_ffn
from .layers import MIXERS, RMSNorm, Rotary, activation, logn_factors, min_value


class Context:
    """What every mixer of one forward pass shares: rotary tables, the causal mask, the logn factors."""

    def __init__(self, cfg, positions, dtype):
        self.cfg, self.positions, self.dtype = cfg, positions, dtype
        self.rotary = Rotary(cfg.attention_head_dim, cfg.rope_theta, cfg.rope_scaling, cfg.max_position_embeddings)
        self.cos, self.sin = self.rotary.tables(positions, dtype)
        self.logn = logn_factors(positions, dtype) if cfg.logn_scaling else None
        self._state = {}
        self._bias = {}

    def state_tables(self, dim, dtype):
        if dim == self.rotary.dim:
            return self.cos, self.sin
        if dim not in self._state:
            r = Rotary(dim, self.cfg.rope_theta, self.cfg.rope_scaling, self.cfg.max_position_embeddings)
            self._state[dim] = r.tables(self.positions, dtype)
        return self._state[dim]

    def visible(self, device):
        t = self.positions.shape[-1]
        i = torch.arange(t, device=device)
        return (i.unsqueeze(0) <= i.unsqueeze(1)).view(1, 1, t, t)

    def causal_bias(self, dtype):
        """0 where a key is visible, the dtype's minimum elsewhere; built once per forward pass and dtype."""
        if dtype not in self._bias:
            t = self.positions.shape[-1]
            bias = torch.zeros(t, t, dtype=dtype, device=self.positions.device)
            self._bias[dtype] = bias.masked_fill(~self.visible(bias.device)[0, 0], min_value(dtype))
        return self._bias[dtype]


class DecoderLayer(nn.Module):
    def __init__(self, cfg, i):
        super().__init__()
        d = cfg.hidden_size
        self.mixer_name, mixer_type = MIXERS[cfg.layer_type(i)]
        if cfg.use_residual_vectors:
            self.input_residual = nn.Parameter(torch.ones(d))
        self.input_layernorm = RMSNorm(d, cfg.rms_norm_eps)
        self.add_module(self.mixer_name, mixer_type(cfg))
        kind = cfg.mlp_type(i)
        self.has_mlp = kind != "none"
        if self.has_mlp:
            if cfg.use_residual_vectors:
                self.post_attention_residual = nn.Parameter(torch.ones(d))
            self.post_attention_layernorm = RMSNorm(d, cfg.rms_norm_eps)
            self.mlp = make_ffn(cfg, kind)
        self.expresser = i in (cfg.expresser_layers or [])
        if self.expresser:
            self.act = activation(cfg.hidden_act)
            self.pre_dense_layernorm = RMSNorm(d, cfg.rms_norm_eps)
            self.dense = nn.Linear(d, d, bias=False)
            self.projection = nn.Linear(d, d, bias=False)

    def forward(self, h, ctx, routing=None):
        h0 = h
        mixed = getattr(self, self.mixer_name)(self.input_layernorm(h), ctx)
        h = mixed + (h * self.input_residual if hasattr(self, "input_residual") else h)
        if self.has_mlp:
            f = self.mlp(self.post_attention_layernorm(h), routing)
            h = f + (h * self.post_attention_residual if hasattr(self, "post_attention_residual") else h)
        if self.expresser:
            h = self.pre_dense_layernorm(h) + h0
            h = self.projection(self.act(self.dense(h)))
        return h


class Backbone(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg, i) for i in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class CausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.model = Backbone(cfg)
        if not cfg.tie_word_embeddings:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def head_weight(self):
        return self.lm_head.weight if hasattr(self, "lm_head") else self.model.embed_tokens.weight

    def forward(self, ids, routing=None):
        """Logits [B, T, V] (fp32) of token ids [B, T] at positions 0 … T−1."""
        h = self.model.embed_tokens(ids)
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0).expand(ids.shape[0], -1)
        ctx = Context(self.config, positions, h.dtype)
        for layer in self.model.layers:
            h = layer(h, ctx, routing)
        return F.linear(self.model.norm(h), self.head_weight()).float()

    def loss(self, ids, targets):
        """Mean cross-entropy (targets −100 ignored) plus router_aux_loss_coef × the Switch loss of MoE layers."""
        coef = self.config.moe.router_aux_loss_coef if self.config.moe is not None else 0.0
        routing = [] if self.training and coef > 0 else None
        logits = self(ids, routing)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        if routing:
            loss = loss + coef * aux_loss(routing)
        return loss


def load_model(model_dir, dtype=None):
    """Builds the model of a HybridSharp model directory and loads its weights (names must match exactly)."""
    cfg = load_config(model_dir)
    model = CausalLM(cfg)
    state = safetensors_io.read_dir(model_dir)
    missing = set(model.state_dict()) - set(state)
    unexpected = set(state) - set(model.state_dict())
    if missing or unexpected:
        raise ValueError(f"{model_dir}: weights do not match the config "
                         f"(missing: {sorted(missing)[:5]}, unexpected: {sorted(unexpected)[:5]})")
    for name, t in state.items():
        if not torch.isfinite(t.float()).all():
            raise ValueError(f"{model_dir}: tensor '{name}' holds NaN or ±∞")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    target = dtype or {"float64": torch.float64}.get(cfg.torch_dtype, torch.float32)
    return model.to(target)


def save_model(model, source_dir, out_dir):
    """Writes out_dir as a model directory: source_dir's config and tokenizer files, then model.safetensors."""
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(source_dir):
        src = os.path.join(source_dir, name)
        if os.path.isfile(src) and name.endswith((".json", ".jinja", ".model", ".txt", ".tiktoken")) \
                and not name.startswith("model.safetensors") and name not in ("checkpoint.json", "metrics.jsonl"):
            shutil.copyfile(src, os.path.join(out_dir, name))
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}.get(
        model.config.torch_dtype, torch.float32)
    state = {k: v.detach().to(dtype) for k, v in model.state_dict().items()}
    safetensors_io.write_file(os.path.join(out_dir, "model.safetensors"), state, {"format": "pt"})

