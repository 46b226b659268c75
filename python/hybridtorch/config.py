"""config.json of a HybridSharp model directory, with the library's defaults resolved once."""

import json
import math
import os
from dataclasses import dataclass, field
from typing import List, Optional

MIXERS = ("attention", "ssd", "dma", "mamba1")
FFNS = ("mlp", "none", "otce_mlp", "cdmoe", "cdmoe_mh", "moe", "otce_moe")
ROUTED = ("cdmoe", "cdmoe_mh", "moe", "otce_moe")


class ConfigError(ValueError):
    """A configuration a user can fix; the command line prints it as one line."""


def _number(v):
    # HybridSharp writes an unbounded limit as the JSON string "Infinity".
    if isinstance(v, str):
        if v in ("Infinity", "+Infinity"):
            return math.inf
        if v == "-Infinity":
            return -math.inf
        raise ConfigError(f"expected a number, got {v!r}")
    return v


def _section(raw, defaults):
    out = dict(defaults)
    for k, v in (raw or {}).items():
        if k in out:
            out[k] = v
    return out


SSD_DEFAULTS = dict(expand=2, head_dim=64, state_size=64, n_groups=1, conv_kernel=4, use_conv_bias=True, gated=True,
                    use_d=True, use_bias=False, chunk_size=64, rope=False, dt_min=1e-3, dt_max=1e-1, dt_init_floor=1e-4,
                    time_step_limit=[0.0, math.inf], norm_eps=1e-5)
DMA_DEFAULTS = dict(keep_window_size=2048, layout="upstream", qk_norm=False)
MAMBA1_DEFAULTS = dict(expand=1, state_size=64, dt_rank=None, conv_kernel=4, use_conv_bias=False, use_proj_bias=False,
                       inner_layernorms=True, rope=True, chunk_size=16, dt_min=1e-3, dt_max=1e-1, dt_init_floor=1e-4,
                       norm_eps=1e-6)
MOE_DEFAULTS = dict(num_experts=1024, num_experts_per_tok=8, norm_topk_prob=False, router_aux_loss_coef=0.001,
                    moe_intermediate_size=None, cdmoe_upstream_router_view=False, otce_moe_kind="expansive",
                    num_cdmoe_heads=1, num_cdmoe_experts_per_head=2, expert_retrieval_size=64)


class Section(dict):
    """A config section with attribute access (ssm, dma, mamba1, moe)."""

    __getattr__ = dict.__getitem__


@dataclass
class ModelConfig:
    vocab_size: int = 261
    hidden_size: int = 256
    intermediate_size: int = 512
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: Optional[int] = None
    head_dim: Optional[int] = None
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: Optional[dict] = None
    attention_bias: bool = False
    mlp_bias: bool = False
    tie_word_embeddings: bool = True
    use_residual_vectors: bool = False
    layer_types: Optional[List[str]] = None
    mlp_types: Optional[List[str]] = None
    ssm: Optional[Section] = None
    mamba1: Optional[Section] = None
    dma: Optional[Section] = None
    moe: Optional[Section] = None
    expresser_layers: Optional[List[int]] = None
    logn_scaling: bool = False
    torch_dtype: str = "float32"
    raw: dict = field(default_factory=dict)

    @property
    def kv_heads(self):
        return self.num_key_value_heads or self.num_attention_heads

    @property
    def attention_head_dim(self):
        return self.head_dim or self.hidden_size // self.num_attention_heads

    def layer_type(self, i):
        return self.layer_types[i] if self.layer_types else "attention"

    def mlp_type(self, i):
        return self.mlp_types[i] if self.mlp_types else "mlp"

    def uses(self, mixer):
        return mixer in self.layer_types if self.layer_types else mixer == "attention"

    def mamba1_rank(self):
        r = self.mamba1.dt_rank
        return r if r is not None else (self.hidden_size + 15) // 16


def from_dict(raw: dict) -> ModelConfig:
    known = {f for f in ModelConfig.__dataclass_fields__ if f not in ("ssm", "mamba1", "dma", "moe", "raw")}
    cfg = ModelConfig(**{k: v for k, v in raw.items() if k in known}, raw=raw)
    cfg.rope_theta = float(_number(cfg.rope_theta))
    if "ssm" in raw and raw["ssm"] is not None or cfg.uses("ssd"):
        if raw.get("ssm") is None:
            raise ConfigError("layer_types uses 'ssd' but the config has no 'ssm' section")
        cfg.ssm = Section(_section(raw["ssm"], SSD_DEFAULTS))
        cfg.ssm["time_step_limit"] = [float(_number(x)) for x in cfg.ssm.time_step_limit]
    if cfg.uses("dma"):
        cfg.dma = Section(_section(raw.get("dma"), DMA_DEFAULTS))
    if cfg.uses("mamba1"):
        cfg.mamba1 = Section(_section(raw.get("mamba1"), MAMBA1_DEFAULTS))
    if raw.get("moe") is not None:
        cfg.moe = Section(_section(raw["moe"], MOE_DEFAULTS))
    validate(cfg)
    return cfg


def validate(cfg: ModelConfig):
    def req(ok, msg):
        if not ok:
            raise ConfigError(msg)

    req(cfg.hidden_size > 0 and cfg.num_hidden_layers > 0 and cfg.vocab_size > 0, "sizes must be positive")
    req(cfg.num_attention_heads % cfg.kv_heads == 0, "num_attention_heads must be a multiple of num_key_value_heads")
    req(cfg.attention_head_dim % 2 == 0, "head_dim must be even")
    for t in cfg.layer_types or []:
        req(t in MIXERS, f"layer_types: unknown mixer '{t}' (known: {', '.join(MIXERS)})")
    for t in cfg.mlp_types or []:
        req(t in FFNS, f"mlp_types: unknown FFN '{t}' (known: {', '.join(FFNS)})")
    req(not cfg.layer_types or len(cfg.layer_types) == cfg.num_hidden_layers, "layer_types length ≠ num_hidden_layers")
    req(not cfg.mlp_types or len(cfg.mlp_types) == cfg.num_hidden_layers, "mlp_types length ≠ num_hidden_layers")
    if any(cfg.mlp_type(i) in ROUTED for i in range(cfg.num_hidden_layers)):
        req(cfg.moe is not None, "mlp_types uses a mixture of experts but the config has no 'moe' section")
    if cfg.rope_scaling is not None:
        req(cfg.rope_scaling.get("rope_type", "dynamic") == "dynamic", "only dynamic rope_scaling is supported")
    req(cfg.hidden_act in ("silu", "swish", "gelu", "relu"), f"hidden_act '{cfg.hidden_act}' is not supported")


def load_config(model_dir: str) -> ModelConfig:
    path = os.path.join(model_dir, "config.json")
    if not os.path.isfile(path):
        raise ConfigError(f"{model_dir}: no config.json (not a model directory)")
    with open(path, encoding="utf-8") as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from None
    try:
        return from_dict(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
