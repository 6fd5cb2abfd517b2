"""Sentence chunking with character offsets.

A light, dependency-free splitter: sentences end at ``.``, ``!`` or ``?`` (plus
closing quotes/brackets) followed by whitespace and an upper-case letter, digit
or quote, except after common abbreviations and initials. Offsets always index
the original document text, so provenance spans point at real characters.

Examples
--------
>>> from kgllm.extract.chunk import split_sentences
>>> text = "Dr. Ada Lindqvist was born in Oslo. She studied at St. Olaf College."
>>> [(c.text, c.start, c.end) for c in split_sentences("d", text)]
[('Dr. Ada Lindqvist was born in Oslo.', 0, 35), ('She studied at St. Olaf College.', 36, 68)]
"""

from __future__ import annotations

import re

from kgllm.types import Chunk, Document

__all__ = ["split_sentences", "chunk_document"]

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "etc", "inc", "ltd", "co", "corp",
    "no", "vol", "fig", "gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep", "rev", "hon", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g", "i.e", "u.s", "u.k", "al",
}
_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9])|[.!?]+[\"')\]]*$|\n\s*\n")


def split_sentences(doc_id: str, text: str) -> list[Chunk]:
    """Split ``text`` into sentence chunks whose offsets index ``text``."""
    chunks: list[Chunk] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        word = re.search(r"([A-Za-z.]+)\.$", text[start:match.start() + 1])
        if word and match.group().startswith("."):
            token = word.group(1).lower().rstrip(".")
            if token in _ABBREVIATIONS or len(token) == 1:
                continue  # "Dr." or an initial such as "J." does not end a sentence
        _append(chunks, doc_id, text, start, end)
        start = end
    _append(chunks, doc_id, text, start, len(text))
    return chunks


def _append(chunks: list[Chunk], doc_id: str, text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    s = start + lead
    chunks.append(Chunk(doc_id, len(chunks), stripped, s, s + len(stripped)))


def chunk_document(document: Document) -> list[Chunk]:
    """Sentence chunks of a :class:`~kgllm.types.Document`."""
    return split_sentences(document.id, document.text)
