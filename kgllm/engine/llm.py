"""``EngineLM``: the :class:`kgllm.reason.llm.Generator` protocol served by the batched engine.

Examples
--------
>>> lm = EngineLM()            # nothing is loaded until the first call
>>> lm.model_name
'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

from kgllm.engine.params import SamplingParams
from kgllm.errors import InputError

__all__ = ["EngineLM"]

Message = dict[str, str]


class EngineLM:
    """Greedy chat completions with continuous batching (all conversations in one engine run).

    Parameters
    ----------
    model_path: a Hugging Face model folder or a ``.gguf`` file (default: the bundled SmolLM2).
    device: ``"auto"`` (cuda, mps, cpu) or a torch device string.
    threads: CPU threads for torch (``None`` leaves torch's default).
    engine_kwargs: passed to :meth:`kgllm.engine.Engine.from_pretrained` (kv_budget_mb, ...).
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, device: str = "auto",
                 threads: int | None = None, **engine_kwargs) -> None:
        self._path = Path(model_path) if model_path else None
        self.device, self.threads, self.engine_kwargs = device, threads, engine_kwargs
        self._engine = None

    @property
    def model_name(self) -> str:
        from kgllm.engine.models import BUNDLED_GGUF

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
        if not conversation or not any(str(m.get("content", "")).strip() for m in conversation):
            raise InputError("empty prompt: a conversation needs at least one non-empty message")
        return self.engine.tokenizer.apply_chat_template(list(conversation), add_generation_prompt=True,
                                                         tokenize=False)

    def chat(self, conversations: Sequence[Sequence[Message]], max_new_tokens: int = 48) -> list[str]:
        """Greedy completions for chat conversations, batched together."""
        if not conversations:
            return []
        prompts = [self._prompt(c) for c in conversations]
        outs = self.engine.generate(prompts, SamplingParams(max_tokens=max_new_tokens))
        return [o.text.strip() for o in outs]

    def complete(self, prompts: Sequence[str], max_new_tokens: int = 48) -> list[str]:
        """Greedy completions of raw prompt strings."""
        outs = self.engine.generate(list(prompts), SamplingParams(max_tokens=max_new_tokens))
        return [o.text.strip() for o in outs]

    def stream_chat(self, conversation: Sequence[Message], max_new_tokens: int = 48,
                    params: SamplingParams | None = None) -> Iterator[str]:
        """Text deltas of a greedy chat completion as they are generated."""
        params = params or SamplingParams(max_tokens=max_new_tokens)
        yield from self.engine.stream(self._prompt(conversation), params)

    def count_tokens(self, text: str) -> int:
        return len(self.engine.encode(text))
