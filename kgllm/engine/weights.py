"""The engine's view of a transformers model's weights: one :class:`LayerWeights` per decoder layer.

Weights are shared with the transformers model, not copied: q/k/v become one ``(QKV, C)`` matrix and gate/up one
``(2I, C)`` matrix (Phi-3 ships them fused already), and the model's own q/k/v and gate/up weights become views into
those, so the fused copies cost no memory. Gemma's norms, which scale
by ``1 + w`` in float32, are stored as that float32 sum. A weight the family should have and the model lacks raises
:class:`~kgllm.errors.ConfigError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kgllm.engine.arch import ArchSpec
from kgllm.errors import ConfigError

__all__ = ["LayerWeights", "Norm", "layer_weights", "norm_weight"]


@dataclass(slots=True)
class Norm:
    """An RMSNorm: ``weight * x_normed`` (Llama: in the model's dtype; Gemma: ``1 + w`` in float32, ``gemma``)."""

    weight: torch.Tensor
    eps: float
    gemma: bool


@dataclass(slots=True)
class LayerWeights:
    attn_norm: Norm
    qkv: torch.Tensor                     # (QKV, C)
    qkv_bias: torch.Tensor | None
    o: torch.Tensor                       # (C, H*D)
    o_bias: torch.Tensor | None
    q_norm: Norm | None                   # over head_dim (Qwen3, Gemma 3)
    k_norm: Norm | None
    post_attn_norm: Norm | None           # on the attention output before its residual add (Gemma)
    mlp_norm: Norm
    post_mlp_norm: Norm | None            # on the MLP output before its residual add (Gemma)
    gate_up: torch.Tensor                 # (2I, C): gate rows, then up rows
    gate_up_bias: torch.Tensor | None
    down: torch.Tensor                    # (C, I)
    down_bias: torch.Tensor | None
    window: int | None                    # sliding window of this layer
    rope_key: str | None


def _get(module, path: str, model_type: str):
    obj = module
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ConfigError(f"the engine cannot run this {model_type!r} model: it has no {path}")
    return obj


def norm_weight(module, spec: ArchSpec) -> Norm:
    w = module.weight.detach()
    return Norm(1.0 + w.float(), spec.eps, True) if spec.gemma else Norm(w, spec.eps, False)


def _bias(*linears) -> torch.Tensor | None:
    biases = [getattr(lin, "bias", None) for lin in linears]
    if all(b is None for b in biases):
        return None
    return torch.cat([b.detach() if b is not None else torch.zeros(lin.weight.shape[0], dtype=lin.weight.dtype,
                                                                     device=lin.weight.device)
                      for b, lin in zip(biases, linears)])


def _fuse(linears) -> torch.Tensor:
    """One ``(sum of outputs, C)`` matrix; the modules' weights become views into it (no second copy in memory)."""
    ws = [lin.weight.detach() for lin in linears]
    first, rows = ws[0], sum(w.shape[0] for w in ws)
    offsets = [w.storage_offset() for w in ws]
    if all(w.is_contiguous() and w.untyped_storage().data_ptr() == first.untyped_storage().data_ptr() for w in ws) \
            and all(b - a == w.numel() for a, b, w in zip(offsets, offsets[1:], ws)):
        # already fused by an earlier engine on this model: view the same memory again
        return first.new_empty(0).set_(first.untyped_storage(), offsets[0], (rows, first.shape[1]))
    fused = torch.cat(ws)
    start = 0
    for lin in linears:
        n = lin.weight.shape[0]
        lin.weight.data = fused[start:start + n]
        start += n
    return fused


def layer_weights(layer, index: int, spec: ArchSpec) -> LayerWeights:
    """The weights of decoder layer ``index`` (a transformers module) laid out for the engine."""
    mt = spec.model_type
    at, mlp = _get(layer, "self_attn", mt), _get(layer, "mlp", mt)
    if hasattr(at, "qkv_proj"):
        qkv, qkv_bias = at.qkv_proj.weight.detach(), _bias(at.qkv_proj)
    else:
        lins = [_get(at, name, mt) for name in ("q_proj", "k_proj", "v_proj")]
        qkv, qkv_bias = _fuse(lins), _bias(*lins)
    if hasattr(mlp, "gate_up_proj"):
        gate_up, gate_up_bias = mlp.gate_up_proj.weight.detach(), _bias(mlp.gate_up_proj)
    else:
        lins = [_get(mlp, name, mt) for name in ("gate_proj", "up_proj")]
        gate_up, gate_up_bias = _fuse(lins), _bias(*lins)
    o, down = _get(at, "o_proj", mt), _get(mlp, "down_proj", mt)
    want = (spec.num_heads + 2 * spec.num_kv_heads) * spec.head_dim
    if qkv.shape[0] != want:
        raise ConfigError(f"the engine cannot run this {mt!r} model: layer {index} projects q/k/v to "
                          f"{qkv.shape[0]} features, its config says {want}")
    if not qkv.is_floating_point():
        raise ConfigError(f"the engine cannot run this {mt!r} model: its weights are {qkv.dtype}, not float")
    norm = lambda name: norm_weight(_get(layer, name, mt), spec)  # noqa: E731
    return LayerWeights(
        attn_norm=norm("input_layernorm"), qkv=qkv, qkv_bias=qkv_bias,
        o=o.weight.detach(), o_bias=_bias(o),
        q_norm=norm_weight(_get(at, "q_norm", mt), spec) if spec.qk_norm else None,
        k_norm=norm_weight(_get(at, "k_norm", mt), spec) if spec.qk_norm else None,
        post_attn_norm=norm("post_attention_layernorm") if spec.gemma else None,
        mlp_norm=norm("pre_feedforward_layernorm" if spec.gemma else "post_attention_layernorm"),
        post_mlp_norm=norm("post_feedforward_layernorm") if spec.gemma else None,
        gate_up=gate_up, gate_up_bias=gate_up_bias, down=down.weight.detach(), down_bias=_bias(down),
        window=spec.windows[index], rope_key=spec.rope_keys[index])
