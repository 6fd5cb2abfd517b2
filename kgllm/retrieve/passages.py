"""Passages (titled documents split into sentences) and their dense ranking.

A :class:`Passage` is the unit evidence retrieval ranks: one document, its title and
its sentences. Passages come from the documents themselves
(:func:`passages_from_documents`) or, when only a graph is at hand, from the source
sentences its facts cite (:func:`passages_from_store`). :func:`dense_scores` is the
plain dense-retrieval baseline: cosine similarity of the question and each passage
(title and text) under the bundled MiniLM sentence embedder.

Examples
--------
>>> from kgllm.types import Document
>>> p = passages_from_documents([Document("Velmora", "Velmora is a town. It lies on the Sava river.")])[0]
>>> p.doc_id, p.sentences
('Velmora', ('Velmora is a town.', 'It lies on the Sava river.'))
>>> p.sentence_at(20)
'It lies on the Sava river.'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from kgllm.errors import InputError
from kgllm.types import Document

__all__ = ["Passage", "split_sentences", "passages_from_documents", "passages_from_store", "dense_scores"]

# A sentence ends at . ! or ? followed by space and an upper-case letter, digit, quote or bracket.
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9\u00C0-\u024F])")
# Abbreviations that end with a period without ending a sentence.
_ABBREV = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Prof|Gen|Col|Lt|Sgt|Mt|Ft|No|vs|Inc|Co|Ltd|Corp|U\.S|U\.K)"
                     r"|\b[A-Z])\.$")


def split_sentences(text: str) -> list[str]:
    """Split a text into sentences (a rule splitter: fast, no model).

    >>> split_sentences("Dr. Ana Ruiz was born in 1950. She moved to Lima in 1980! Why?")
    ['Dr. Ana Ruiz was born in 1950.', 'She moved to Lima in 1980!', 'Why?']
    """
    pieces: list[str] = []
    start = 0
    for m in _SENT_END.finditer(text):
        head = text[start:m.start() + 1].rstrip("\"')]")
        if _ABBREV.search(head.strip()):
            continue
        pieces.append(text[start:m.end()].strip())
        start = m.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


@dataclass(frozen=True, slots=True)
class Passage:
    """A titled text and its sentences; ``doc_id`` is what provenance cites (the title, by default)."""

    doc_id: str
    title: str
    text: str
    sentences: tuple[str, ...]

    @property
    def full_text(self) -> str:
        """Title and text, as the dense ranker reads them."""
        return f"{self.title}. {self.text}" if self.title and not self.text.startswith(self.title) else self.text

    def sentence_at(self, offset: int) -> str:
        """The sentence covering character ``offset`` of ``text`` (the last one when past the end)."""
        pos = 0
        for sentence in self.sentences:
            found = self.text.find(sentence, pos)
            if found < 0:
                continue
            pos = found + len(sentence)
            if offset < pos:
                return sentence
        return self.sentences[-1] if self.sentences else ""


def passages_from_documents(documents: Iterable[Document]) -> list[Passage]:
    """One :class:`Passage` per document (title: ``metadata["title"]`` when given, else the id).

    Raises
    ------
    InputError
        Two documents share an id, or a document has no text.
    """
    out: list[Passage] = []
    seen: set[str] = set()
    for doc in documents:
        if doc.id in seen:
            raise InputError(f"two documents have the id {doc.id!r}: passages need distinct ids")
        if not doc.text.strip():
            raise InputError(f"document {doc.id!r} has empty text")
        seen.add(doc.id)
        title = str(doc.metadata.get("title", doc.id)) if doc.metadata else doc.id
        out.append(Passage(doc.id, title, doc.text, tuple(split_sentences(doc.text))))
    return out


def passages_from_store(store: Any) -> list[Passage]:
    """Passages rebuilt from the source sentences a graph's facts cite, one per document id.

    Sentences are ordered by their character offset; only sentences that yielded a
    fact are known, so this is a partial view of the documents (use
    :func:`passages_from_documents` when the texts are at hand).

    >>> from kgllm.stores.memory import MemoryStore
    >>> from kgllm.types import Fact, GraphDelta, Provenance
    >>> store = MemoryStore()
    >>> p = Provenance("Velmora", 0, 0, 18, "rules", "Velmora is a town.")
    >>> _ = store.upsert(GraphDelta(facts=[Fact("velmora", "is_a", "town", provenance=(p,))]))
    >>> [(x.doc_id, x.sentences) for x in passages_from_store(store)]
    [('Velmora', ('Velmora is a town.',))]
    """
    by_doc: dict[str, dict[int, str]] = {}
    for fact in store.facts():
        for prov in fact.provenance:
            if prov.sentence:
                by_doc.setdefault(prov.doc_id, {}).setdefault(max(prov.start, 0), prov.sentence)
    out = []
    for doc_id in sorted(by_doc):
        sentences = tuple(dict.fromkeys(s for _, s in sorted(by_doc[doc_id].items())))
        out.append(Passage(doc_id, doc_id, " ".join(sentences), sentences))
    return out


def dense_scores(question: str, passages: Sequence[Passage], embedder: Any = None) -> np.ndarray:
    """Cosine similarity of ``question`` to each passage's title and text (MiniLM by default).

    Returns a float array, one score per passage, in the passages' order.
    """
    if not passages:
        return np.zeros(0, dtype=np.float32)
    if embedder is None:
        from kgllm.resources import get_embedder

        embedder = get_embedder()
    vecs = embedder.encode([question] + [p.full_text for p in passages])
    return vecs[1:] @ vecs[0]
