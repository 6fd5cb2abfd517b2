"""Sentence vectors of names, computed once per model and kept on disk: the embedding index of a graph's
entity and relation names, loaded a text at a time and grown as new names come.

Vectors depend on the text and the model only, so one cache serves every graph (SQLite file or Neo4j):
a name embedded for one question is read, not computed, by every later process. The cache is a SQLite
file in the user's cache folder (``$KGLLM_CACHE_DIR``, else ``~/.cache/kgllm``), never beside a graph
file; only the bundled :class:`~kgllm.resources.Embedder` (or one on another model folder) is cached,
other embedders (test doubles) are used as they are.

Examples
--------
>>> import tempfile, numpy as np
>>> class Letters:                      # an embedder that is not cached (not a kgllm Embedder)
...     def encode(self, texts):
...         return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
>>> cache = VectorCache(Letters(), folder=tempfile.mkdtemp())
>>> cache.encode(["ada", "oslo"]).tolist()
[[3.0, 1.0], [4.0, 1.0]]
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["VectorCache", "cache_folder"]


def cache_folder() -> Path:
    """Where kgllm keeps caches: ``$KGLLM_CACHE_DIR``, else ``~/.cache/kgllm``."""
    return Path(os.environ.get("KGLLM_CACHE_DIR") or Path.home() / ".cache" / "kgllm")


def _model_id(embedder: Any) -> str | None:
    """A name for the model behind ``embedder`` that changes when its files do; ``None``: do not cache."""
    from kgllm.resources import Embedder, _minilm_dir

    if type(embedder) is not Embedder:
        return None
    folder = Path(embedder.model_dir) if embedder.model_dir else _minilm_dir()
    stamp = [p.stat().st_mtime_ns for p in (folder / "config.json", folder / "modules.json") if p.exists()]
    return f"{folder.resolve()}:{stamp}"


class VectorCache:
    """``encode(texts)`` of ``embedder``, each text's vector read from the cache or computed once and kept.

    Thread-safe; a cache that cannot be written (read-only folder, busy) costs only the computing.
    """

    def __init__(self, embedder: Any, folder: str | os.PathLike[str] | None = None) -> None:
        self.embedder = embedder
        self.folder = Path(folder) if folder is not None else None
        self._model: str | None | bool = False  # False: not looked at yet
        self._local = threading.local()

    def _con(self) -> sqlite3.Connection | None:
        con = getattr(self._local, "con", None)
        if con is None:
            path = (self.folder or cache_folder()) / "vectors.sqlite"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                con = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("CREATE TABLE IF NOT EXISTS vectors(model TEXT NOT NULL, text TEXT NOT NULL, "
                            "vec BLOB NOT NULL, PRIMARY KEY (model, text)) WITHOUT ROWID")
            except (OSError, sqlite3.Error):
                return None
            self._local.con = con
        return con

    def lookup(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors of those of ``texts`` the cache holds."""
        if self._model is False:
            self._model = _model_id(self.embedder)
        con = self._con() if self._model else None
        if con is None:
            return {}
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(texts))
        try:
            for i in range(0, len(unique), 500):
                part = unique[i:i + 500]
                for text, blob in con.execute(f"SELECT text, vec FROM vectors WHERE model = ? AND text IN "
                                              f"({','.join('?' * len(part))})", (self._model, *part)):
                    found[text] = np.frombuffer(blob, dtype=np.float32)
        except sqlite3.Error:
            return found
        return found

    def keep(self, vectors: dict[str, np.ndarray]) -> None:
        """Add computed vectors to the cache (best effort)."""
        con = self._con() if self._model else None
        if con is None or not vectors:
            return
        with contextlib.suppress(sqlite3.Error):
            con.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)",
                            [(self._model, t, np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` vectors, as ``embedder.encode(texts)`` gives them."""
        texts = list(texts)
        found = self.lookup(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            computed = np.asarray(self.embedder.encode(missing), dtype=np.float32)
            new = dict(zip(missing, computed))
            self.keep(new)
            found.update(new)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[t] for t in texts])

    def prime(self, texts: Sequence[str]) -> None:
        """Put the cached vectors of ``texts`` into the embedder's own memory cache (a kgllm Embedder keeps one),
        so that encoding them later costs nothing, and the model is not even loaded when all were cached."""
        memory = getattr(self.embedder, "_cache", None)
        if isinstance(memory, dict):
            memory.update(self.lookup([t for t in texts if t not in memory]))

    def remember(self, texts: Sequence[str]) -> None:
        """Keep the vectors the embedder computed for ``texts`` (from its memory cache) on disk."""
        memory = getattr(self.embedder, "_cache", None)
        if isinstance(memory, dict):
            self.keep({t: memory[t] for t in texts if t in memory})
