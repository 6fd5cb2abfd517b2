"""Batched inference engine: continuous batching, paged KV cache, prefix caching.

``Engine`` (requests in, tokens out) and ``SamplingParams`` (per-request decoding);
:class:`kgllm.reason.llm.LocalLM` puts the reasoner's chat protocol on top. Only ``runner`` and
``sampler`` touch torch; importing this package does not import torch.
"""

from kgllm.engine.engine import Engine
from kgllm.engine.params import SamplingParams
from kgllm.engine.sequence import Output

__all__ = ["Engine", "Output", "SamplingParams"]
