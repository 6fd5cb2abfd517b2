"""What the engine needs to know about a model's architecture, read from its transformers config (pure Python).

Every supported family is one forward with a few switches (:class:`ArchSpec`): Llama, Mistral, Qwen2, Qwen3,
Gemma 2, Gemma 3 (text) and Phi-3 differ only in

- ``qk_norm``: an RMSNorm over each head of q and k before the rotary embedding (Qwen3, Gemma 3);
- ``gemma``: Gemma's conventions: norms scale by ``1 + w`` in float32, the embedding is multiplied by
  ``sqrt(hidden_size)``, the attention output and the MLP output are normalised again before their residual adds
  (four norms a layer), and attention scores are scaled by ``query_pre_attn_scalar ** -0.5``;
- ``activation``: SiLU, or GELU with the tanh approximation (Gemma);
- ``windows``: a sliding attention window per layer (Mistral and Phi-3: every layer when the config sets one;
  Qwen2/3 and Gemma: the layers whose ``layer_types`` entry is ``sliding_attention``);
- ``attn_softcap`` / ``final_softcap``: ``cap * tanh(x / cap)`` on attention scores / final logits (Gemma 2);
- ``rope_keys``: which rotary table a layer uses (Gemma 3's local layers have their own base frequency);
- fused ``qkv_proj`` / ``gate_up_proj`` weights (Phi-3) and biases (Qwen2; Llama's ``attention_bias`` and
  ``mlp_bias``) are read from the weights themselves (:mod:`kgllm.engine.weights`).

A config that asks for anything else is refused with a :class:`~kgllm.errors.ConfigError` that names the model type
and what the engine lacks, instead of running and producing different text.

Examples
--------
>>> from types import SimpleNamespace as NS
>>> cfg = NS(model_type="mistral", num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
...          hidden_size=64, head_dim=16, rms_norm_eps=1e-5, max_position_embeddings=128, sliding_window=8,
...          hidden_act="silu", rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
>>> spec = arch_spec(cfg)
>>> spec.windows, spec.gemma, spec.max_model_len
((8, 8), False, 128)
>>> arch_spec(NS(model_type="gpt2"))
Traceback (most recent call last):
...
kgllm.errors.ConfigError: the engine cannot run model_type 'gpt2': it runs gemma2, gemma3_text, llama, mistral, phi3, qwen2, qwen3
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kgllm.errors import ConfigError

__all__ = ["ArchSpec", "arch_spec", "FAMILIES", "ROPE_TYPES"]

FAMILIES = ("gemma2", "gemma3_text", "llama", "mistral", "phi3", "qwen2", "qwen3")
ROPE_TYPES = ("default", "linear", "llama3", "yarn", "dynamic", "longrope")
_ACTIVATIONS = {"silu": "silu", "swish": "silu", "gelu_pytorch_tanh": "gelu_tanh"}
_LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclass(frozen=True)
class ArchSpec:
    """The switches of the engine's one forward for a model (see the module docstring)."""

    model_type: str
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    hidden_size: int
    eps: float
    max_model_len: int
    qk_norm: bool
    gemma: bool
    activation: str                       # "silu" | "gelu_tanh"
    attn_scale: float
    attn_softcap: float | None
    final_softcap: float | None
    embed_scale: float | None
    windows: tuple[int | None, ...]       # per layer: sliding window (tokens attended, itself included) or None
    rope_keys: tuple[str | None, ...]     # per layer: key into a nested rope_parameters dict, or None
    rope_types: dict[str | None, str]     # rope key -> rope type


def _refuse(model_type: str, what: str) -> ConfigError:
    return ConfigError(f"the engine cannot run model_type {model_type!r}: {what}")


def _rope(cfg: Any, mt: str, layer_types: list[str] | None) -> tuple[tuple[str | None, ...], dict[str | None, str]]:
    params = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    n = cfg.num_hidden_layers
    nested = bool(params) and all(isinstance(v, dict) or v is None for v in params.values())
    if nested:
        if layer_types is None:
            raise _refuse(mt, "per-layer-type rope parameters without layer_types")
        keys: tuple[str | None, ...] = tuple(layer_types)
        types = {k: (params.get(k) or {}).get("rope_type", "default") for k in set(layer_types)}
    else:
        keys, types = (None,) * n, {None: params.get("rope_type", params.get("type", "default"))}
    for rope_type in types.values():
        if rope_type not in ROPE_TYPES:
            raise _refuse(mt, f"rope type {rope_type!r} is not supported (the engine has {', '.join(ROPE_TYPES)})")
    return keys, types


def _windows(cfg: Any, mt: str) -> tuple[tuple[int | None, ...], list[str] | None]:
    n, window = cfg.num_hidden_layers, getattr(cfg, "sliding_window", None)
    if mt == "llama":
        return (None,) * n, None
    if mt in ("mistral", "phi3"):       # one window for every layer (their modelling code ignores layer_types)
        return (window,) * n, None
    layer_types = list(getattr(cfg, "layer_types", None) or ["full_attention"] * n)
    if len(layer_types) != n or any(t not in _LAYER_TYPES for t in layer_types):
        raise _refuse(mt, f"layer_types must be {n} of {', '.join(_LAYER_TYPES)}, got {layer_types}")
    if "sliding_attention" in layer_types and not window:
        raise _refuse(mt, "sliding_attention layers without a sliding_window")
    return tuple(window if t == "sliding_attention" else None for t in layer_types), layer_types


def arch_spec(cfg: Any) -> ArchSpec:
    """The :class:`ArchSpec` of a transformers config, or :class:`~kgllm.errors.ConfigError` naming what is missing.

    Parameters
    ----------
    cfg : transformers.PretrainedConfig
        A causal LM's config (``model.config``).

    Raises
    ------
    ConfigError
        An unknown ``model_type``, or a known one asking for a feature the engine lacks (bidirectional attention,
        an unknown activation or rope type, quantized weights).
    """
    mt = getattr(cfg, "model_type", None)
    if mt not in FAMILIES:
        hint = " (the multimodal Gemma 3; load its text model, Gemma3ForCausalLM)" if mt == "gemma3" else ""
        raise _refuse(mt, f"it runs {', '.join(FAMILIES)}{hint}")
    gemma = mt.startswith("gemma")
    if getattr(cfg, "use_bidirectional_attention", False):
        raise _refuse(mt, "bidirectional attention (an encoder) is not supported")
    quant = getattr(cfg, "quantization_config", None)
    method = quant.get("quant_method") if isinstance(quant, dict) else getattr(quant, "quant_method", None)
    if quant is not None and str(getattr(method, "value", method)).lower() != "gguf":    # GGUF loads dequantized
        raise _refuse(mt, "quantized weights are not supported; load a float checkpoint or a .gguf file")
    act_name = getattr(cfg, "hidden_activation", None) if gemma else None
    act_name = act_name or getattr(cfg, "hidden_act", "silu")
    if act_name not in _ACTIVATIONS:
        raise _refuse(mt, f"activation {act_name!r} is not supported (the engine has {', '.join(_ACTIVATIONS)})")
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    windows, layer_types = _windows(cfg, mt)
    rope_keys, rope_types = _rope(cfg, mt, layer_types)
    max_len = cfg.max_position_embeddings
    if "longrope" in rope_types.values():
        # transformers switches a longrope model to its long factors once a sequence passes the original length,
        # which makes the keys in its cache depend on how the sequence was computed (chunks, preemption): the
        # engine stays within the original length, where the short factors hold and results are exact
        max_len = min(max_len, getattr(cfg, "original_max_position_embeddings", None) or max_len)
    scale = cfg.query_pre_attn_scalar ** -0.5 if gemma else head_dim ** -0.5
    return ArchSpec(
        model_type=mt, num_layers=cfg.num_hidden_layers, num_heads=cfg.num_attention_heads,
        num_kv_heads=getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads, head_dim=head_dim,
        hidden_size=cfg.hidden_size, eps=cfg.rms_norm_eps, max_model_len=max_len,
        qk_norm=mt in ("qwen3", "gemma3_text"), gemma=gemma, activation=_ACTIVATIONS[act_name], attn_scale=scale,
        attn_softcap=getattr(cfg, "attn_logit_softcapping", None) if gemma else None,
        final_softcap=getattr(cfg, "final_logit_softcapping", None) if gemma else None,
        embed_scale=cfg.hidden_size ** 0.5 if gemma else None,
        windows=windows, rope_keys=rope_keys, rope_types=rope_types)
