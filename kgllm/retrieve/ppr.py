"""Personalized PageRank over a small weighted graph (power iteration, numpy only).

Examples
--------
>>> ranks = personalized_pagerank(3, [(0, 1, 1.0), (1, 2, 1.0)], {0: 1.0}, damping=0.5)
>>> [round(float(x), 3) for x in ranks]
[0.583, 0.333, 0.083]
>>> bool(abs(ranks.sum() - 1.0) < 1e-6)
True
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from kgllm.errors import ConfigError

__all__ = ["personalized_pagerank"]


def personalized_pagerank(n: int, edges: Iterable[tuple[int, int, float]], seeds: Mapping[int, float],
                          damping: float = 0.5, iterations: int = 50, tol: float = 1e-8,
                          directed: bool = False) -> np.ndarray:
    """Stationary distribution of a walk that restarts at ``seeds`` with probability ``1 - damping``.

    Parameters
    ----------
    n : int
        Number of nodes (ids ``0 .. n-1``).
    edges : iterable of (int, int, float)
        ``(source, target, weight)``; weights ``<= 0`` are ignored. Undirected unless
        ``directed`` (each edge is then walked both ways).
    seeds : mapping of int to float
        Restart distribution (normalised here); empty or all-zero: uniform.
    damping : float, default 0.5
        Probability of following an edge at each step (HippoRAG uses 0.5).
    iterations, tol :
        Power-iteration limits.

    Returns
    -------
    numpy.ndarray
        ``n`` probabilities summing to 1. A dangling node (no edges) sends its mass back to the seeds.

    Raises
    ------
    ConfigError
        ``damping`` outside ``[0, 1)`` or a node id out of range.
    """
    if not 0 <= damping < 1:
        raise ConfigError(f"damping must be in [0, 1), got {damping}")
    if n <= 0:
        return np.zeros(0)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for s, t, w in edges:
        if not (0 <= s < n and 0 <= t < n):
            raise ConfigError(f"edge ({s}, {t}) names a node outside 0..{n - 1}")
        if w <= 0:
            continue
        rows.append(s)
        cols.append(t)
        vals.append(float(w))
        if not directed:
            rows.append(t)
            cols.append(s)
            vals.append(float(w))
    matrix = np.zeros((n, n))
    if rows:
        np.add.at(matrix, (np.array(rows), np.array(cols)), np.array(vals))
    out_weight = matrix.sum(axis=1)
    dangling = out_weight == 0
    transition = np.divide(matrix, out_weight[:, None], out=np.zeros_like(matrix), where=~dangling[:, None])
    restart = np.zeros(n)
    for node, w in seeds.items():
        if not 0 <= node < n:
            raise ConfigError(f"seed {node} is outside 0..{n - 1}")
        restart[node] += max(float(w), 0.0)
    restart = restart / restart.sum() if restart.sum() > 0 else np.full(n, 1.0 / n)
    ranks = restart.copy()
    for _ in range(iterations):
        spread = ranks @ transition + ranks[dangling].sum() * restart
        new = (1 - damping) * restart + damping * spread
        done = np.abs(new - ranks).sum() < tol
        ranks = new
        if done:
            break
    return ranks / ranks.sum()
