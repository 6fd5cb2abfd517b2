"""Language models for the reasoner: the local batched engine, or any OpenAI-compatible server.

Anything with ``chat(conversations, max_new_tokens) -> list[str]`` is a :class:`Generator`;
one that also has ``stream_chat(conversation, max_new_tokens) -> Iterator[str]`` can stream
(:class:`StreamingGenerator`). Two are built in:

- :class:`LocalLM`: the bundled SmolLM2-135M-Instruct (or any local Llama-family model) served
  by kgllm's own engine (:mod:`kgllm.engine`): all conversations of a call run together with
  continuous batching, a paged KV cache and prefix caching, on the GPU when there is one.
- :class:`~kgllm.engine.openai_client.OpenAIClient`: ``kgllm serve-llm``, vLLM, llama.cpp's
  server or any other OpenAI-compatible endpoint.

:func:`resolve_llm` turns a user's choice (``"auto"``, a URL, an object or ``None``) into one.

Examples
--------
>>> lm = LocalLM()                       # nothing is loaded until the first call
>>> lm.model_name
'SmolLM2-135M-Instruct.Q4_1.gguf'
>>> resolve_llm("http://127.0.0.1:8000").base_url
'http://127.0.0.1:8000/v1'
>>> resolve_llm(None) is None
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Protocol, Sequence, runtime_checkable

from kgllm.errors import ConfigError, InputError

__all__ = ["Generator", "StreamingGenerator", "LocalLM", "Message", "BUNDLED_GGUF", "resolve_llm"]

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@runtime_checkable
class Generator(Protocol):
    """Anything that turns chat conversations into completions (greedy unless it says otherwise)."""

    def chat(self, conversations: Sequence[Sequence[Message]], max_new_tokens: int = 48) -> list[str]: ...


@runtime_checkable
class StreamingGenerator(Generator, Protocol):
    """A :class:`Generator` that can also yield one completion's text as it is generated."""

    def stream_chat(self, conversation: Sequence[Message], max_new_tokens: int = 48) -> Iterator[str]: ...


def check_conversation(conversation: Sequence[Message]) -> None:
    """Raise :class:`InputError` for a conversation without any non-empty message."""
    if not conversation or not any(str(m.get("content", "")).strip() for m in conversation):
        raise InputError("empty prompt: a conversation needs at least one non-empty message")


class LocalLM:
    """A local causal LM served by kgllm's batched engine (greedy decoding).

    Parameters
    ----------
    model_path:
        A Hugging Face model folder or a ``.gguf`` file (default: the bundled SmolLM2-135M-Instruct).
    device:
        ``"auto"`` (cuda, then mps, then cpu) or a torch device string; bf16 on GPU, fp32 on CPU.
    threads:
        CPU threads for torch (``None`` leaves torch's default).
    engine_kwargs:
        Passed to :meth:`kgllm.engine.Engine.from_pretrained` (``kv_budget_mb``, ``max_num_seqs``,
        ``max_batch_tokens``, ``dtype``, ...).
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, device: str = "auto",
                 threads: int | None = None, **engine_kwargs) -> None:
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        self._path = Path(model_path) if model_path else None
        self.device, self.threads, self.engine_kwargs = device, threads, engine_kwargs
        self._engine = None

    @property
    def model_name(self) -> str:
        return self._path.name if self._path else BUNDLED_GGUF

    @property
    def engine(self):
        """The underlying :class:`~kgllm.engine.Engine`, loaded on first use."""
        if self._engine is None:
            from kgllm.engine.engine import Engine

            if self.threads:
                import torch

                torch.set_num_threads(self.threads)
            self._engine = Engine.from_pretrained(self._path, device=self.device, **self.engine_kwargs)
        return self._engine

    def _prompt(self, conversation: Sequence[Message]) -> str:
        check_conversation(conversation)
        return self.engine.tokenizer.apply_chat_template(list(conversation), add_generation_prompt=True,
                                                         tokenize=False)

    def chat(self, conversations: Sequence[Sequence[Message]], max_new_tokens: int = 48) -> list[str]:
        """Greedy completions for chat conversations, all batched together in the engine."""
        if not conversations:
            return []
        for conv in conversations:
            check_conversation(conv)
        return self.complete([self._prompt(c) for c in conversations], max_new_tokens=max_new_tokens)

    def complete(self, prompts: Sequence[str], max_new_tokens: int = 48) -> list[str]:
        """Greedy completions of raw prompt strings."""
        from kgllm.engine.params import SamplingParams

        outs = self.engine.generate(list(prompts), SamplingParams(max_tokens=max_new_tokens))
        return [o.text.strip() for o in outs]

    def stream_chat(self, conversation: Sequence[Message], max_new_tokens: int = 48) -> Iterator[str]:
        """Text pieces of one greedy chat completion as the engine generates them."""
        from kgllm.engine.params import SamplingParams

        yield from self.engine.stream(self._prompt(conversation), SamplingParams(max_tokens=max_new_tokens))

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` under this model's tokenizer."""
        return len(self.engine.encode(text))


def resolve_llm(spec: "Generator | str | os.PathLike[str] | None", **kwargs) -> Generator | None:
    """The language model a user asked for.

    ``None``: no LM (answers come from the graph alone). ``"auto"``: :class:`LocalLM` on the bundled
    model. ``"http://..."`` / ``"https://..."``: an OpenAI-compatible server
    (:class:`~kgllm.engine.openai_client.OpenAIClient`; ``kwargs`` such as ``model`` and ``api_key``
    go to it). A path: :class:`LocalLM` on that model. Anything with ``chat``: used as is.
    """
    if spec is None or isinstance(spec, Generator):
        return spec
    if isinstance(spec, os.PathLike) or isinstance(spec, str):
        text = os.fspath(spec)
        if text.startswith(("http://", "https://")):
            from kgllm.engine.openai_client import OpenAIClient

            return OpenAIClient(text, **kwargs)
        if text == "auto":
            return LocalLM(**kwargs)
        if Path(text).exists():
            return LocalLM(text, **kwargs)
        raise ConfigError(f"llm must be 'auto', an http(s):// URL of an OpenAI-compatible server, a model path, "
                          f"None or a Generator; got {text!r}")
    raise ConfigError(f"llm must be 'auto', a URL, a model path, None or a Generator, got {type(spec).__name__}")
