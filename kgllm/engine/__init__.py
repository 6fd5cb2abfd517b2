"""Batched inference engine: continuous batching, paged KV cache, prefix caching.

``Engine`` (requests in, tokens out) and ``SamplingParams`` (per-request decoding);
:class:`kgllm.lm.LocalLM` puts the chat protocol on top and :mod:`kgllm.server.llm` serves it over
HTTP. ``arch`` reads a model's architecture from its config (the families it runs); ``runner`` (with ``rope`` and
``weights``) and ``sampler`` are the torch code; importing this package does not import torch.
"""

from kgllm.engine.engine import Engine, StepError
from kgllm.engine.params import SamplingParams
from kgllm.engine.sequence import Output

__all__ = ["Engine", "Output", "SamplingParams", "StepError"]
