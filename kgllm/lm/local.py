"""A local causal LM served by kgllm's own batched engine (:mod:`kgllm.engine`).

All conversations of one ``chat`` call run together with continuous batching, a paged KV cache and
prefix caching, on the GPU when there is one. Nothing is loaded until the first call.

Examples
--------
>>> lm = LocalLM()
>>> lm.model_name
'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from kgllm.errors import ConfigError
from kgllm.lm.base import Message, check_conversation
from kgllm.progress import progress as progress_bar
from kgllm.resources import BUNDLED_GGUF

if TYPE_CHECKING:
    from kgllm.engine import Engine

__all__ = ["LocalLM"]


class LocalLM:
    """A local causal LM served by kgllm's batched engine (greedy decoding).

    Parameters
    ----------
    model_path : str or os.PathLike, optional
        A Hugging Face model folder or a ``.gguf`` file of a family the engine runs (Llama 3.x, Qwen2.5/3,
        Gemma 2/3, Mistral, Phi-3; see :mod:`kgllm.engine.arch`); default: the bundled SmolLM2-135M-Instruct. Its
        tokenizer's chat template formats the prompts (:mod:`kgllm.engine.chat`).
    device : str
        ``"auto"`` (cuda, then mps, then cpu) or a torch device string; bf16 on GPU, fp32 on CPU.
    threads : int, optional
        CPU threads for torch (``None`` leaves torch's default).
    progress : bool
        Show a progress bar on stderr counting finished conversations when a call has more than one.
    **engine_kwargs
        Passed to :meth:`kgllm.engine.Engine.from_pretrained` (``kv_budget_mb``, ``max_num_seqs``,
        ``max_batch_tokens``, ``dtype``, ...).
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, device: str = "auto",
                 threads: int | None = None, progress: bool = False, **engine_kwargs: Any) -> None:
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        self._path = Path(model_path) if model_path else None
        self.device, self.threads, self.progress, self.engine_kwargs = device, threads, progress, engine_kwargs
        self._engine = None

    @property
    def model_name(self) -> str:
        """File or folder name of the model (the bundled GGUF file when none was given)."""
        return self._path.name if self._path else BUNDLED_GGUF

    @property
    def engine(self) -> "Engine":
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
        """Greedy completions for chat conversations, all batched together in the engine.

        Parameters
        ----------
        conversations : sequence of conversations
            Each a sequence of :data:`~kgllm.lm.base.Message`; all are checked before any runs.
        max_new_tokens : int
            Most tokens generated per conversation.

        Returns
        -------
        list of str
            One stripped completion per conversation, in order.
        """
        if not conversations:
            return []
        for conv in conversations:
            check_conversation(conv)
        return self.complete([self._prompt(c) for c in conversations], max_new_tokens=max_new_tokens)

    def complete(self, prompts: Sequence[str], max_new_tokens: int = 48) -> list[str]:
        """Greedy completions of raw prompt strings (a progress bar over them when ``progress``)."""
        from kgllm.engine.params import SamplingParams

        texts = [""] * len(prompts)
        finished = self.engine.as_completed(list(prompts), SamplingParams(max_tokens=max_new_tokens))
        shown = progress_bar(finished, "generating", total=len(prompts), enabled=self.progress and len(prompts) > 1)
        with contextlib.closing(finished), contextlib.closing(shown):   # Ctrl-C: abort the rest, drop the bar
            for i, out in shown:
                texts[i] = out.text.strip()
        return texts

    def choose(self, conversations: Sequence[Sequence[Message]], options: Sequence[Sequence[str]]) -> list[int]:
        """For each conversation, the index of the option the model writes, decoding constrained to the options.

        The engine's allowed-token trie (:class:`~kgllm.engine.sampler.AllowedTokensProcessor`) lets the model
        write only one of the conversation's options, token by token; all conversations run in one batch.

        Parameters
        ----------
        conversations : sequence of conversations
            One chat per question.
        options : sequence of sequences of str
            The texts each conversation may answer with (at least one each).

        Returns
        -------
        list of int
            Index into each conversation's options (0 when the output matched none, e.g. cut short).
        """
        from kgllm.engine.params import SamplingParams
        from kgllm.engine.sampler import AllowedTokensProcessor

        if len(options) != len(conversations):
            raise ConfigError(f"{len(conversations)} conversations but {len(options)} option lists")
        if any(not opts for opts in options):
            raise ConfigError("every conversation needs at least one option to choose from")
        engine = self.engine
        encoded = [[engine.encode(o) for o in opts] for opts in options]
        params = [SamplingParams(max_tokens=max(len(t) for t in enc) + 1,
                                 logits_processors=(AllowedTokensProcessor(enc, engine.eos_token_id),))
                  for enc in encoded]
        out = [0] * len(conversations)
        prompts = [self._prompt(c) for c in conversations]
        for i, result in engine.as_completed(prompts, params):
            ids = [t for t in result.token_ids if t != engine.eos_token_id]
            out[i] = next((k for k, enc in enumerate(encoded[i]) if enc == ids), 0)
        return out

    def stream_chat(self, conversation: Sequence[Message], max_new_tokens: int = 48) -> Iterator[str]:
        """Text pieces of one greedy chat completion as the engine generates them."""
        from kgllm.engine.params import SamplingParams

        yield from self.engine.stream(self._prompt(conversation), SamplingParams(max_tokens=max_new_tokens))

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` under this model's tokenizer."""
        return len(self.engine.encode(text))
