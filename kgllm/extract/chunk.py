"""Sentence chunking with character offsets.

A light, dependency-free splitter: sentences end at ``.``, ``!`` or ``?`` (plus
closing quotes/brackets) followed by whitespace and a word that does not start
with a lower-case letter (any script), except after common abbreviations and
initials; a blank line always ends a sentence. Offsets always index the original
document text, so provenance spans point at real characters.

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
_OPEN = "\"'\u201c\u2018(["  # quotes/brackets that may open a sentence
_CLOSE = "\"'\u201d\u2019)]"  # quotes/brackets that may close one
_BOUNDARY = re.compile(
    rf"[.!?]+[{re.escape(_CLOSE)}]*(?=\s+[{re.escape(_OPEN)}]*\w)|[.!?]+[{re.escape(_CLOSE)}]*$|\n\s*\n"
)
_NEXT_WORD = re.compile(rf"\s+[{re.escape(_OPEN)}]*(\w)")
_INITIALISM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "J.R.R", "U.S.A"


def split_sentences(doc_id: str, text: str) -> list[Chunk]:
    """Split ``text`` into sentence chunks whose offsets index ``text``."""
    chunks: list[Chunk] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if match.group()[0] in ".!?":
            following = _NEXT_WORD.match(text, end)
            if following and following.group(1).islower():
                continue  # '"Why?" she asked', "e.g. this": the sentence goes on
            # A bounded look-back: abbreviations are short, long runs without a split stay linear.
            before = text[max(start, match.start() - 32):match.start()]
            if match.group()[0] == "." and _is_abbreviation(before, following):
                continue  # "Dr." or an initial such as "J." does not end a sentence
        _append(chunks, doc_id, text, start, end)
        start = end
    _append(chunks, doc_id, text, start, len(text))
    return chunks


def _is_abbreviation(before: str, following: re.Match[str] | None) -> bool:
    """Whether the word just before a period (the end of ``before``) is an abbreviation or initial."""
    words = before.split()
    if not words or before[-1:].isspace():
        return False
    token = words[-1].lstrip(_OPEN).lower()
    if token == "no":  # "No. 5", but "The answer was no."
        return following is not None and following.group(1).isdigit()
    if token in _ABBREVIATIONS:
        return True
    return (len(token) == 1 and token.isalpha()) or bool(_INITIALISM.fullmatch(token))


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
