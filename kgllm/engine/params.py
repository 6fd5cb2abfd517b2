"""Per-request sampling parameters, validated on construction.

Examples
--------
>>> SamplingParams(max_tokens=8).greedy
True
>>> SamplingParams(temperature=-1)
Traceback (most recent call last):
...
kgllm.errors.ConfigError: temperature must be >= 0, got -1
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from kgllm.errors import ConfigError

__all__ = ["SamplingParams", "LogitsProcessor"]

# (output token ids so far, logits (V,) float tensor) -> logits (V,)
LogitsProcessor = Callable[[Sequence[int], Any], Any]


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(slots=True)
class SamplingParams:
    """How one request is decoded.

    Parameters
    ----------
    max_tokens: most new tokens to generate (>= 1).
    temperature: 0 means greedy (argmax); > 0 samples from softmax(logits / temperature).
    top_k: keep the k most likely tokens (0 = all).
    top_p: nucleus sampling mass in (0, 1] (1 = all).
    seed: per-request random seed; the same seed gives the same sample whatever the batch.
    stop: strings that end generation; the output text is cut before the first match.
    stop_token_ids: token ids that end generation (kept out of the text).
    ignore_eos: keep generating past the tokenizer's end-of-sequence token.
    logits_processors: callables ``(output_token_ids, logits) -> logits`` applied in order
        before sampling, e.g. to constrain output to an allowed set of sequences.
    """

    max_tokens: int = 64
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    logits_processors: tuple[LogitsProcessor, ...] = ()

    def __post_init__(self) -> None:
        if not _is_int(self.max_tokens) or self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be an int >= 1, got {self.max_tokens!r}")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or not math.isfinite(self.temperature):
            raise ConfigError(f"temperature must be a finite number, got {self.temperature!r}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature!r}")
        if not _is_int(self.top_k) or self.top_k < 0:
            raise ConfigError(f"top_k must be an int >= 0 (0 disables it), got {self.top_k!r}")
        if isinstance(self.top_p, bool) or not isinstance(self.top_p, (int, float)) \
                or not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.seed is not None and not _is_int(self.seed):
            raise ConfigError(f"seed must be an int or None, got {self.seed!r}")
        if isinstance(self.stop, str):
            self.stop = (self.stop,)
        self.stop = tuple(self.stop)
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ConfigError(f"stop must be non-empty strings, got {self.stop!r}")
        self.stop_token_ids = tuple(self.stop_token_ids)
        if any(not _is_int(t) or t < 0 for t in self.stop_token_ids):
            raise ConfigError(f"stop_token_ids must be ints >= 0, got {self.stop_token_ids!r}")
        if callable(self.logits_processors):
            self.logits_processors = (self.logits_processors,)
        self.logits_processors = tuple(self.logits_processors)
        if any(not callable(p) for p in self.logits_processors):
            raise ConfigError("logits_processors must be callables (output_token_ids, logits) -> logits")

    @property
    def greedy(self) -> bool:
        """True when the next token is the argmax of the (processed) logits."""
        return self.temperature == 0.0
