"""Language models: the :class:`Generator` protocol, the local engine and OpenAI-compatible servers.

A leaf package: the reasoner and the extractor use it, and it imports nothing above it (only
:mod:`kgllm.errors`, :mod:`kgllm.progress`, :mod:`kgllm.resources` and :mod:`kgllm.engine`).

- :class:`LocalLM`: the bundled SmolLM2-135M-Instruct (or a local Llama 3.x, Qwen2.5/3, Gemma 2/3, Mistral or
  Phi-3 model folder or ``.gguf`` file) on kgllm's batched engine.
- :class:`OpenAIClient`: ``kgllm serve-llm``, vLLM, llama.cpp's server or any other OpenAI-compatible
  endpoint, over httpx.

:func:`resolve_llm` turns a user's choice (``"auto"``, a URL, a path, an object or ``None``) into one.

Examples
--------
>>> resolve_llm("http://127.0.0.1:8000").base_url
'http://127.0.0.1:8000/v1'
>>> resolve_llm("auto").model_name
'SmolLM2-135M-Instruct.Q4_1.gguf'
>>> resolve_llm(None) is None
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kgllm.errors import ConfigError
from kgllm.lm.base import Generator, Message, StreamingGenerator, check_conversation
from kgllm.lm.local import LocalLM

__all__ = ["Generator", "StreamingGenerator", "Message", "check_conversation", "LocalLM", "OpenAIClient",
           "resolve_llm"]


def __getattr__(name: str) -> Any:
    if name == "OpenAIClient":           # imported on first use: httpx takes a while to import
        from kgllm.lm.openai import OpenAIClient

        return OpenAIClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resolve_llm(spec: Generator | str | os.PathLike[str] | None, **kwargs: Any) -> Generator | None:
    """The language model a user asked for.

    Parameters
    ----------
    spec : Generator, str, os.PathLike or None
        ``None``: no LM (answers come from the graph alone). ``"auto"``: :class:`LocalLM` on the
        bundled model. ``"http://..."`` / ``"https://..."``: an :class:`OpenAIClient` for that server.
        A path that exists: :class:`LocalLM` on that model. Anything with ``chat``: used as is.
    **kwargs
        Passed to the constructor chosen (``model``, ``api_key``, ``progress`` for a URL; ``device``,
        ``threads``, ``progress`` and engine options for a local model).

    Raises
    ------
    ConfigError
        ``spec`` is none of the above (an unknown name, a missing path, another type).
    """
    if spec is None or isinstance(spec, Generator):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        if text.startswith(("http://", "https://")):
            from kgllm.lm.openai import OpenAIClient

            return OpenAIClient(text, **kwargs)
        if text == "auto":
            return LocalLM(**kwargs)
        if Path(text).exists():
            return LocalLM(text, **kwargs)
        raise ConfigError(f"llm must be 'auto', an http(s):// URL of an OpenAI-compatible server, a model path, "
                          f"None or a Generator; got {text!r} (no such path)")
    raise ConfigError(f"llm must be 'auto', a URL, a model path, None or a Generator, got {type(spec).__name__}")
