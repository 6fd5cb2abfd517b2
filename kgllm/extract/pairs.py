"""Passages and their candidate pairs, as the trained relation model reads them.

A :class:`Passage` is a few consecutive sentences of a document read together (a fact's subject is
often named in the sentence before the one that states it): their spaCy parse, their candidate spans
(:func:`~kgllm.extract.candidates.passage_candidates`) and their MiniLM token vectors
(:class:`~kgllm.extract.features.TokenEncoder`). :func:`passage_groups` decides which sentences go
together; :func:`read_passages` parses and encodes them; :func:`pair_data` turns chosen ordered
pairs of candidates into the arrays of :class:`~kgllm.extract.relhead.PairData`.

Examples
--------
>>> from kgllm.types import Chunk
>>> ends = [100, 400, 650, 740]
>>> chunks = [Chunk("d", i, "x" * (e - s), s, e) for i, (s, e) in enumerate(zip([0, *ends], ends))]
>>> [[c.index for c in g] for g in passage_groups(chunks, max_chars=400)]
[[0, 1], [2, 3]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kgllm.extract.candidates import Candidate, between, dependency_path, overlaps, passage_candidates
from kgllm.extract.features import pair_symbols
from kgllm.extract.relhead import PairData
from kgllm.types import Chunk

if TYPE_CHECKING:
    from spacy.tokens import Doc

__all__ = ["Passage", "passage_groups", "read_passages", "ordered_pairs", "pair_data"]


@dataclass
class Passage:
    """Consecutive sentences read together.

    Attributes
    ----------
    text : str
        The passage as written (from the first sentence's start to the last one's end).
    doc : spacy.tokens.Doc
        Its parse.
    candidates : list of Candidate
        Its candidate spans.
    vectors : ndarray
        One MiniLM vector per token.
    chunks : list of Chunk
        The document's sentences it covers (empty for a training text).
    start : int
        Offset of the passage in its document.
    """

    text: str
    doc: Any
    candidates: list[Candidate]
    vectors: np.ndarray
    chunks: list[Chunk] = field(default_factory=list)
    start: int = 0

    def sentence_of(self) -> list[int]:
        """The sentence index (within the passage) of every token."""
        out = [0] * len(self.doc)
        for k, sent in enumerate(self.doc.sents):
            for i in range(sent.start, sent.end):
                out[i] = k
        return out

    def topic(self) -> int:
        """Start token of the passage's first named candidate (-1 when none)."""
        return next((c.start for c in self.candidates if c.source in ("ent", "mention", "propn")
                     and not c.is_value), -1)

    def chunks_of(self, *cands: Candidate) -> list[Chunk]:
        """The document sentences the candidates lie in (in document order)."""
        out = []
        for chunk in self.chunks:
            lo, hi = chunk.start - self.start, chunk.end - self.start
            if any(lo <= self.doc[c.start].idx < hi for c in cands):
                out.append(chunk)
        return out or self.chunks[:1]


def passage_groups(chunks: Sequence[Chunk], max_chars: int = 400, max_sentences: int = 3) -> list[list[Chunk]]:
    """Consecutive sentences grouped into passages of at most ``max_chars`` characters and ``max_sentences``."""
    groups: list[list[Chunk]] = []
    for chunk in chunks:
        last = groups[-1] if groups else None
        if last and len(last) < max_sentences and chunk.end - last[0].start <= max_chars:
            last.append(chunk)
        else:
            groups.append([chunk])
    return groups


def read_passages(texts: Sequence[str], nlp: Any, encoder: Any, limit: int = 48,
                  batch_size: int = 64) -> list[Passage]:
    """Parse, find candidates in and encode each text (one :class:`Passage` per text)."""
    docs: list[Doc] = list(nlp.pipe(texts, batch_size=batch_size))
    cands = [passage_candidates(doc, limit=limit) for doc in docs]
    vectors = encoder.encode(docs)
    return [Passage(t, d, c, v) for t, d, c, v in zip(texts, docs, cands, vectors)]


def ordered_pairs(cands: Sequence[Candidate]) -> list[tuple[int, int]]:
    """Every ordered pair of non-overlapping candidates whose texts differ."""
    return [(i, j) for i, a in enumerate(cands) for j, b in enumerate(cands)
            if i != j and not overlaps(a, b) and a.text.lower() != b.text.lower()]


def _mean(vectors: np.ndarray, start: int, end: int) -> np.ndarray:
    return vectors[start:end].mean(axis=0) if end > start else np.zeros(vectors.shape[1], np.float32)


def pair_data(passages: Sequence[Passage], pairs: Sequence[Sequence[tuple[int, int]]],
              labels: Sequence[Sequence[int]] | None = None, allowed: np.ndarray | None = None,
              allowed_rows: Sequence[int] | None = None) -> PairData:
    """The :class:`~kgllm.extract.relhead.PairData` of ``pairs[k]`` (candidate index pairs) of ``passages[k]``.

    ``labels[k]`` gives each pair's label (0 none, ``r + 1`` relation ``r``); ``allowed`` is a
    ``(n_schemas, R)`` mask and ``allowed_rows[k]`` the schema row of passage ``k`` (training only).
    """
    dim = next((p.vectors.shape[1] for p in passages if p.vectors.size), 384)
    token_blocks, offset = [], 0
    subj, obj, psg, syms, path, path_off, gap, gap_off, labs, rows = ([] for _ in range(10))
    for k, (p, chosen) in enumerate(zip(passages, pairs)):
        vecs = p.vectors if p.vectors.size else np.zeros((len(p.doc), dim), np.float32)
        token_blocks.append(vecs)
        if chosen:
            span_vecs = [_mean(vecs, c.start, c.end) for c in p.candidates]
            whole = _mean(vecs, 0, len(vecs))
            sent, topic = p.sentence_of(), p.topic()
            for n, (i, j) in enumerate(chosen):
                a, b = p.candidates[i], p.candidates[j]
                steps = dependency_path(p.doc, a, b)
                words = between(p.doc, a, b)
                subj.append(span_vecs[i])
                obj.append(span_vecs[j])
                psg.append(whole)
                path_off.append(len(path))
                path.extend(x + offset for x in steps)
                gap_off.append(len(gap))
                gap.extend(x + offset for x in words)
                ha, hb = p.doc[a.head], p.doc[b.head]
                syms.append(pair_symbols(a, b, len(steps), (ha.dep_, hb.dep_), (ha.pos_, hb.pos_), topic,
                                         (sent[a.head], sent[b.head])))
                labs.append(labels[k][n] if labels is not None else -1)
                rows.append(allowed_rows[k] if allowed_rows is not None else 0)
        offset += len(vecs)
    n_rel = allowed.shape[1] if allowed is not None else 0
    f32 = lambda xs, width: np.asarray(xs, np.float32).reshape(len(xs), width)  # noqa: E731
    from kgllm.extract.features import SYMBOLS

    return PairData(
        tokens=np.concatenate(token_blocks).astype(np.float32) if token_blocks else np.zeros((0, dim), np.float32),
        subject=f32(subj, dim), object=f32(obj, dim), passage=f32(psg, dim),
        path=np.asarray(path, np.int64), path_offsets=np.asarray(path_off, np.int64),
        gap=np.asarray(gap, np.int64), gap_offsets=np.asarray(gap_off, np.int64),
        symbols=f32(syms, SYMBOLS), labels=np.asarray(labs, np.int64),
        allowed=allowed[np.asarray(rows, np.int64)] if allowed is not None and rows else
        np.zeros((len(labs), n_rel), dtype=bool))
