"""A document read sentence by sentence: each sentence's parse and what its words refer to.

The rule extractor (:mod:`kgllm.extract.rules`) and the answer reader
(:mod:`kgllm.reason.reader`) read documents the same way: sentence chunks
(:func:`~kgllm.extract.chunk.chunk_document`) parsed by spaCy, their mentions
(:mod:`kgllm.extract.mentions`) and what pronouns, relative pronouns and noun phrases
stand for (:mod:`kgllm.extract.coref`), resolved with the mentions of the document so
far. :func:`read_sentences` runs that loop once; with ``referents=True`` each
:class:`SentenceReading` also keeps, for every token that refers to something, the
mentions it stands for, computed before the next sentence is read (so a pronoun
never points forward): a name itself (a surname alone as the full name, "Ostby" ->
"Hedda Ostby"), a pronoun's or possessive determiner's antecedent, a definite
description's referent ("the company" -> the company named before), "there" -> the
place, a relative pronoun -> the noun (or name) its clause is about. A description
of an entity that nothing fits refers to nothing (no entry). Paragraph indices
anchor relative dates ("two years later") to a year of the same paragraph.

Examples
--------
>>> from kgllm.types import Document
>>> readings = read_document(Document("d", "Ada Lovelace moved to London.\\n\\nShe opened a school there."))
>>> [(r.chunk.index, r.paragraph) for r in readings]
[(0, 0), (1, 1)]
>>> second = readings[1]
>>> [m.text for m in second.referents[0]], [m.text for m in second.referents[4]]  # "She", "there"
(['Ada Lovelace'], ['London'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from kgllm.extract.chunk import chunk_document
from kgllm.extract.coref import DocState, Referents
from kgllm.extract.mentions import RELATIVE, Mention, SentenceMentions
from kgllm.extract.values import record_years
from kgllm.types import Chunk, Document

if TYPE_CHECKING:
    from spacy.tokens import Doc

__all__ = ["SentenceReading", "read_sentences", "read_document", "paragraph_of"]

_REFERRING_POS = frozenset({"PRON", "NOUN", "PROPN", "NUM", "DET", "ADV"})
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(slots=True)
class SentenceReading:
    """One sentence of a document as read: its chunk, parse, mentions and (optionally) referents.

    ``referents`` maps a token index of ``doc`` to the mentions the token stands for (a name
    itself, a pronoun's antecedent, the name a noun phrase refers back to); filled only by
    ``read_sentences(..., referents=True)``. ``paragraph`` counts the blank lines before the
    sentence in its document.
    """

    chunk: Chunk
    doc: Doc
    refs: Referents
    paragraph: int = 0
    referents: dict[int, list[Mention]] = field(default_factory=dict)


def paragraph_of(text: str, chunks: Iterable[Chunk]) -> list[int]:
    """The paragraph index (blank lines before it) of each chunk of ``text``.

    >>> from kgllm.extract.chunk import split_sentences
    >>> text = "Ada sang. Bo ran.\\n\\nCy hid."
    >>> paragraph_of(text, split_sentences("d", text))
    [0, 0, 1]
    """
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(text)]
    return [sum(1 for b in breaks if b < c.start) for c in chunks]


def read_sentences(chunks: list[Chunk], parsed: Iterable[Any], referents: bool = False,
                   paragraphs: list[int] | None = None) -> Iterator[SentenceReading]:
    """Read parsed sentence chunks of one document in order, carrying the document state across them.

    Yields each sentence's :class:`SentenceReading` before its mentions join the document's
    history, so the caller may read facts off it (as the extractor does) with the state as it
    was. A parse that failed is passed as its exception and raised here.
    """
    state = DocState()
    paragraphs = paragraphs or [0] * len(chunks)
    for chunk, sdoc, para in zip(chunks, parsed, paragraphs):
        if isinstance(sdoc, Exception):
            raise sdoc
        state.paragraph = para
        refs = Referents(SentenceMentions(sdoc, chunk), state)
        reading = SentenceReading(chunk, sdoc, refs, para)
        yield reading
        if referents:
            for tok in sdoc:
                if tok.pos_ in _REFERRING_POS or tok.lower_ in RELATIVE:
                    found = refs.refer(tok)
                    if found:
                        reading.referents[tok.i] = found
        state.history.extend(refs.local)
        record_years(refs)


def read_document(document: Document, nlp: Any = None) -> list[SentenceReading]:
    """Every sentence of ``document`` read with its referents (see :func:`read_sentences`).

    ``nlp``: the spaCy pipeline (default the shared one). May raise on a text spaCy cannot
    parse; callers that must not raise catch and report.
    """
    if nlp is None:
        from kgllm.resources import get_nlp

        nlp = get_nlp()
    chunks = chunk_document(document)
    parsed = list(nlp.pipe([c.text for c in chunks]))
    return list(read_sentences(chunks, parsed, referents=True, paragraphs=paragraph_of(document.text, chunks)))
