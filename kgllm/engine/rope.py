"""Rotary position embeddings: inverse frequencies per rope key, and cos/sin for the positions of a step.

The inverse frequencies come from transformers' own rope functions (``default`` from the model's rotary class,
``linear``, ``llama3``, ``yarn``, ``dynamic`` and ``longrope`` from ``ROPE_INIT_FUNCTIONS``), computed in float32 on
the model's config, so every scaling variant matches transformers exactly. ``dynamic`` rescales only past
``max_position_embeddings``, the engine's context limit, so within it the table is the plain one; ``longrope`` is
kept to its original length by :func:`~kgllm.engine.arch.arch_spec`, where the short factors apply.
cos/sin are computed per step as transformers does: ``(pos * inv_freq)`` in float32, doubled, ``cos``/``sin``, times
the attention scaling (YaRN, longrope), then cast to the model's dtype.
"""

from __future__ import annotations

import torch

from kgllm.engine.arch import ArchSpec

__all__ = ["RotaryTables", "apply_rotary"]


class RotaryTables:
    """Inverse frequencies and attention scaling per rope key of ``spec`` (one key unless layers differ)."""

    def __init__(self, model, spec: ArchSpec, device: torch.device) -> None:
        from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

        cfg = model.config
        rotary_cls = type(model.model.rotary_emb)
        self.inv_freq: dict[str | None, torch.Tensor] = {}
        self.scaling: dict[str | None, float] = {}
        for key, rope_type in spec.rope_types.items():
            fn = rotary_cls.compute_default_rope_parameters if rope_type == "default" else ROPE_INIT_FUNCTIONS[rope_type]
            inv_freq, scaling = fn(cfg, device=None, **({"layer_type": key} if key is not None else {}))
            self.inv_freq[key] = inv_freq.float().to(device)            # (R/2,): R = rotary dims (<= head_dim)
            self.scaling[key] = float(scaling)

    def cos_sin(self, pos: torch.Tensor, dtype: torch.dtype) -> dict[str | None, tuple[torch.Tensor, torch.Tensor]]:
        """``{key: (cos, sin)}``, each ``(T, 1, R)`` in ``dtype``, for positions ``pos`` (T,)."""
        out = {}
        for key, inv_freq in self.inv_freq.items():
            freqs = pos[:, None].float() * inv_freq[None]                 # (T, R/2)
            emb = torch.cat((freqs, freqs), dim=-1)                       # (T, R)
            s = self.scaling[key]
            out[key] = ((emb.cos() * s).to(dtype)[:, None], (emb.sin() * s).to(dtype)[:, None])
        return out


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first ``R`` dims of ``x`` (T, heads, D) by position; the rest pass (partial rotary, Phi-3)."""
    r = cos.shape[-1]
    if r == x.shape[-1]:
        return x * cos + _rotate_half(x) * sin
    rot, rest = x[..., :r], x[..., r:]
    return torch.cat((rot * cos + _rotate_half(rot) * sin, rest), dim=-1)
