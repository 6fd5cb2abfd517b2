"""The trained relation model's head: a small MLP over pooled MiniLM token vectors, scored against relations.

A pair of candidate spans is the concatenation of five pooled token vectors (subject, object, the
dependency path between them, the words between them, the passage; see :mod:`kgllm.extract.features`),
their element-wise product, and the pair's symbolic features. Two layers map it to a hidden vector
``h``; each relation ``r`` has a vector ``u_r = free_r + P e_r`` (a learned vector of its own plus a
projection of the MiniLM embedding ``e_r`` of its name, so a relation never seen in training still
gets a score from its name), and "no relation" has one too. The score of ``r`` is ``h . u_r + b_r``;
a softmax over "none" and the schema's relations (the others are masked) types the pair, or rejects
it. Because pairs are ordered, the same model decides the direction.

Training is seeded and runs on CPU: :func:`train_scorer` shuffles with a seeded generator and
initialises the weights from the seed, so the same data and seed give the same weights.

Examples
--------
>>> import numpy as np
>>> data = PairData.random(n_pairs=64, dim=8, symbols=4, n_relations=3, seed=0)
>>> model = train_scorer(data, name_vectors=np.eye(3, 8, dtype=np.float32), epochs=2, hidden=16, seed=1)
>>> probs = predict(model, data, relation_ids=np.array([0, 1, 2]), name_vectors=np.eye(3, 8, dtype=np.float32))
>>> probs.shape, bool(np.allclose(probs.sum(axis=1), 1.0))
((64, 4), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PairData", "build_scorer", "train_scorer", "predict"]


@dataclass
class PairData:
    """Candidate pairs as arrays (``N`` pairs, ``T`` token vectors of width ``D``).

    Attributes
    ----------
    tokens : (T, D) float32
        Every passage's token vectors, concatenated.
    subject, object : (N, D) float32
        The pooled vectors of each pair's two spans.
    passage : (N, D) float32
        The pooled vector of each pair's passage.
    path, path_offsets, gap, gap_offsets : int64 arrays
        Bags of token indices (into ``tokens``) of each pair's dependency path and of the words between
        the spans, flattened with their start offsets (``len(offsets) == N``).
    symbols : (N, S) float32
        Symbolic features.
    labels : (N,) int64
        0 for no relation, ``k + 1`` for the relation with id ``k``; -1 when unknown (inference).
    allowed : (N, R) bool
        The relations each pair's schema allows (training: masks the softmax).
    """

    tokens: np.ndarray
    subject: np.ndarray
    object: np.ndarray
    passage: np.ndarray
    path: np.ndarray
    path_offsets: np.ndarray
    gap: np.ndarray
    gap_offsets: np.ndarray
    symbols: np.ndarray
    labels: np.ndarray
    allowed: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def random(cls, n_pairs: int, dim: int, symbols: int, n_relations: int, seed: int = 0) -> "PairData":
        """Random data of the right shapes (for tests and examples)."""
        rng = np.random.default_rng(seed)
        f = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
        offsets = np.arange(n_pairs, dtype=np.int64)
        return cls(f(n_pairs, dim), f(n_pairs, dim), f(n_pairs, dim), f(n_pairs, dim), offsets.copy(), offsets,
                   offsets.copy(), offsets.copy(), f(n_pairs, symbols),
                   rng.integers(0, n_relations + 1, n_pairs).astype(np.int64),
                   np.ones((n_pairs, n_relations), dtype=bool))


def _bag_rows(offsets: np.ndarray, total: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat bag indices and offsets of the bags ``rows`` (a batch) of a flattened bag array."""
    ends = np.append(offsets[1:], total)
    starts, stops = offsets[rows], ends[rows]
    lengths = stops - starts
    flat = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)]) if lengths.sum() else \
        np.zeros(0, dtype=np.int64)
    return flat.astype(np.int64), np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def _module(dim: int, symbols: int, hidden: int, n_relations: int, name_dim: int) -> Any:
    import torch
    from torch import nn

    class PairScorer(nn.Module):
        """See the module docstring."""

        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(6 * dim + symbols, hidden)
            self.mid = nn.Linear(hidden, hidden)
            self.drop = nn.Dropout(0.2)
            self.free = nn.Parameter(torch.zeros(n_relations + 1, hidden))
            self.bias = nn.Parameter(torch.zeros(n_relations + 1))
            self.names = nn.Linear(name_dim, hidden, bias=False)
            nn.init.normal_(self.free, std=0.02)

        def hidden(self, tokens: Any, batch: dict[str, Any]) -> Any:
            bag = lambda k: nn.functional.embedding_bag(batch[k], tokens, batch[k + "_offsets"], mode="mean")  # noqa
            s, o = batch["subject"], batch["object"]
            x = torch.cat([s, o, bag("path"), bag("gap"), batch["passage"], s * o, batch["symbols"]], dim=1)
            h = self.drop(nn.functional.gelu(self.inp(self.drop(x))))
            return nn.functional.gelu(self.mid(h))

        def forward(self, tokens: Any, batch: dict[str, Any], ids: Any, names: Any) -> Any:
            """Logits ``(B, 1 + len(ids))``: "none", then the relations ``ids`` (-1: known only by name)."""
            known = (ids >= 0).float().unsqueeze(1)
            rows = torch.clamp(ids, min=0) + 1
            u = self.free[rows] * known + self.names(names)                      # (R, H)
            b = self.bias[rows] * known.squeeze(1)
            u = torch.cat([self.free[:1], u], dim=0)
            b = torch.cat([self.bias[:1], b], dim=0)
            return self.hidden(tokens, batch) @ u.T + b

    return PairScorer()


def build_scorer(dim: int, symbols: int, hidden: int, n_relations: int, name_dim: int) -> Any:
    """A new, untrained :class:`PairScorer` torch module (torch is imported only when a model is made)."""
    return _module(dim, symbols, hidden, n_relations, name_dim)


def _batch(data: PairData, rows: np.ndarray) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {k: torch.from_numpy(getattr(data, k)[rows]) for k in
                           ("subject", "object", "passage", "symbols")}
    for key in ("path", "gap"):
        values, offsets = getattr(data, key), getattr(data, key + "_offsets")
        flat, starts = _bag_rows(offsets, len(values), rows)
        out[key] = torch.from_numpy(values[flat])
        out[key + "_offsets"] = torch.from_numpy(starts)
    return out


def train_scorer(data: PairData, name_vectors: np.ndarray, epochs: int = 8, hidden: int = 256, seed: int = 0,
                 lr: float = 2e-3, batch_size: int = 256, log: Any = None) -> Any:
    """Train a pair scorer (:func:`build_scorer`) on ``data`` (labels over ``len(name_vectors)`` relations); seeded.

    ``log`` (a callable taking a string) hears each epoch's mean loss.
    """
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_rel = len(name_vectors)
    model = build_scorer(data.subject.shape[1], data.symbols.shape[1], hidden, n_rel, name_vectors.shape[1])
    tokens, names = torch.from_numpy(data.tokens), torch.from_numpy(name_vectors)
    ids = torch.arange(n_rel)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(data) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.1)
    allowed = torch.from_numpy(np.concatenate([np.ones((len(data), 1), bool), data.allowed], axis=1))
    labels = torch.from_numpy(data.labels)
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(data))
        total = 0.0
        for k in range(0, len(order), batch_size):
            rows = order[k:k + batch_size]
            logits = model(tokens, _batch(data, rows), ids, names)
            logits = logits.masked_fill(~allowed[rows], -1e4)
            loss = torch.nn.functional.cross_entropy(logits, labels[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(rows)
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: loss {total / max(len(data), 1):.4f}")
    model.eval()
    return model


def predict(model: Any, data: PairData, relation_ids: np.ndarray, name_vectors: np.ndarray,
            batch_size: int = 2048) -> np.ndarray:
    """Probabilities ``(N, 1 + R)``: "none", then each relation of ``relation_ids`` (-1: known by name only)."""
    import torch

    tokens, names = torch.from_numpy(data.tokens), torch.from_numpy(name_vectors.astype(np.float32))
    ids = torch.from_numpy(relation_ids.astype(np.int64))
    out = []
    with torch.inference_mode():
        for k in range(0, len(data), batch_size):
            rows = np.arange(k, min(k + batch_size, len(data)))
            out.append(torch.softmax(model(tokens, _batch(data, rows), ids, names), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 1 + len(relation_ids)), dtype=np.float32)
