"""Batched inference engine: continuous batching, paged KV cache, prefix caching.

``Engine`` (requests in, tokens out), ``SamplingParams`` (per-request decoding), ``EngineLM``
(the :class:`kgllm.reason.llm.Generator` protocol on top of the engine). Only ``runner`` and
``sampler`` touch torch; importing this package does not import torch.
"""

from kgllm.engine.engine import Engine
from kgllm.engine.llm import EngineLM
from kgllm.engine.params import SamplingParams
from kgllm.engine.sequence import Output

__all__ = ["Engine", "EngineLM", "Output", "SamplingParams"]
