"""HybridSharp's PyTorch twin: the same models, the same model directories, for PyTorch clusters.

Written from the models' equations (see docs/architecture.md), not generated from the C# code; importable without
transformers or safetensors (PyTorch ≥ 1.13 and the standard library are enough).
"""

from .config import ModelConfig, load_config
from .model import CausalLM, load_model, save_model

__all__ = ["ModelConfig", "load_config", "CausalLM", "load_model", "save_model"]
