"""Candidate arguments of a trained relation model: the spans of a parsed passage a fact may link.

:func:`passage_candidates` lists the token spans of a parsed passage (a spaCy ``Doc`` of one to a few
sentences) that may be the subject or the object of a fact:

* named entities, and the whole names the rule extractor's mentions build around them
  (:class:`~kgllm.extract.mentions.SentenceMentions`: "Ines Varga", "Kvarnvik, Vermont",
  "Order of Merit (Varnholm)");
* noun chunks and the mentions of nominal heads, without determiners or possessives;
* runs of proper nouns, numbers, dates and quantities;
* quoted titles ("the song "Blue Hour""), and whole subjects and appositions that start with a capital
  (a title such as "How Ships Sink" in "How Ships Sink is a 1931 film");
* variants of those: with a capitalised article in front ("The Quiet Valley" may be the name), joined
  across a colon or a possessive inside a title ("Nord: Two Seasons", "Mira's Long Night"), a place
  with the place that qualifies it ("Kvarnvik, Vermont"), without a generic head noun ("folk metal"
  of "folk metal genre") or a leading demonym ("Ines Varga" of "Norwegian Ines Varga").

Each :class:`Candidate` keeps its token span, its text, its entity label (``""`` for none) and its
head token. :func:`dependency_path` gives the tokens on the dependency path between two heads, and
:func:`between` the tokens between two spans; the relation model pools its features over them.

Examples
--------
>>> from kgllm.resources import get_nlp
>>> doc = get_nlp()("The novelist Mira Holt was born in Tallinn on 3 May 1961.")
>>> found = [c.text for c in passage_candidates(doc)]
>>> [t for t in ("Mira Holt", "Tallinn", "3 May 1961") if t in found]
['Mira Holt', 'Tallinn', '3 May 1961']
>>> a, b = (next(c for c in passage_candidates(doc) if c.text == t) for t in ("Mira Holt", "Tallinn"))
>>> [doc[i].text for i in dependency_path(doc, a, b)]
['born', 'in']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kgllm.types import Chunk, entity_id

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

__all__ = ["Candidate", "passage_candidates", "dependency_path", "between", "overlaps", "VALUE_LABELS"]

#: Entity labels of values (dates, numbers, amounts): a value is an object, rarely a subject.
VALUE_LABELS = frozenset({"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"})
_EDGE_DROP = {"det", "poss", "case", "punct", "cc", "predet", "prep", "mark"}
_EDGE_TAGS = {"DT", "PRP$", "WP$", "POS", "IN", "CC", "WDT"}
_NOMINAL = {"NOUN", "PROPN", "NUM"}
_QUOTES = {'"', "“", "”", "'", "‘", "’", "``", "''"}
_PRIORITY = {"ent": 0, "mention": 1, "quote": 1, "propn": 2, "chunk": 3, "subtree": 4, "variant": 4, "noun": 5}
_ARTICLES = {"The", "A", "An"}
_PLACES = {"GPE", "LOC"}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A span of a passage that may be a fact's subject or object.

    Attributes
    ----------
    start, end : int
        Token span ``[start, end)`` in the passage.
    text : str
        Its text as written.
    label : str
        The spaCy entity label covering it (``""`` when none).
    head : int
        Index of its syntactic head token.
    source : str
        What proposed it: ``ent``, ``mention``, ``quote``, ``propn``, ``chunk`` or ``noun``.
    """

    start: int
    end: int
    text: str
    label: str
    head: int
    source: str

    @property
    def is_value(self) -> bool:
        """Whether the span is a date, number or amount."""
        return self.label in VALUE_LABELS


def overlaps(a: Candidate, b: Candidate) -> bool:
    """Whether two candidates share a token.

    >>> overlaps(Candidate(0, 2, "a b", "", 1, "ent"), Candidate(1, 3, "b c", "", 2, "ent"))
    True
    """
    return a.start < b.end and b.start < a.end


def _trim(doc: Doc, start: int, end: int) -> tuple[int, int]:
    """The span without determiners, possessives, prepositions and punctuation at its edges."""
    while start < end and (doc[start].dep_ in _EDGE_DROP or doc[start].tag_ in _EDGE_TAGS
                           or doc[start].is_punct or doc[start].is_space or doc[start].pos_ == "PRON"):
        if doc[start].text in "([" and ")" in doc[start:end].text:
            break
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].is_space or doc[end - 1].tag_ in _EDGE_TAGS
                           or doc[end - 1].dep_ in ("cc", "prep", "case")):
        if doc[end - 1].text in ")]" and "(" in doc[start:end].text or doc[end - 1].text == ".":
            if doc[end - 1].text != "." or (end - 1 > start and len(doc[end - 2].text) <= 2):
                break
        end -= 1
    return start, end


def _head(doc: Doc, start: int, end: int) -> int:
    """The token of ``[start, end)`` whose head lies outside the span (the last one when several)."""
    outside = [t.i for t in doc[start:end] if t.head.i < start or t.head.i >= end or t.head.i == t.i]
    return outside[-1] if outside else end - 1


def _label(doc: Doc, start: int, end: int) -> str:
    for ent in doc.ents:
        if ent.start < end and start < ent.end:
            if ent.start >= start and ent.end <= end or ent.label_ not in VALUE_LABELS:
                return ent.label_
    return ""


def _quoted(doc: Doc) -> list[tuple[int, int]]:
    """Spans between a pair of quotation marks, up to 12 tokens."""
    out, open_at = [], None
    for tok in doc:
        if tok.text in _QUOTES and not (tok.text in "'’" and tok.i and not doc[tok.i - 1].whitespace_):
            if open_at is None:
                open_at = tok.i
            else:
                if 0 < tok.i - open_at - 1 <= 12:
                    out.append((open_at + 1, tok.i))
                open_at = None
    return out


def passage_candidates(doc: Doc, limit: int = 48) -> list[Candidate]:
    """The candidate arguments of a parsed passage, in token order (see the module docstring).

    Parameters
    ----------
    doc : spacy.tokens.Doc
        The parsed passage. Its tokens' tags may be corrected in place by the mention finder (as the rule
        extractor does).
    limit : int, optional
        Most candidates kept: named and proper ones first, then the shorter.
    """
    from kgllm.extract.mentions import SentenceMentions

    found: dict[tuple[int, int], str] = {}

    def add(start: int, end: int, source: str) -> None:
        if source != "variant":                 # a variant is built from trimmed spans, on purpose
            start, end = _trim(doc, start, end)
        if end - start < 1 or end - start > 16:
            return
        text = doc[start:end].text
        if not entity_id(text) or all(t.pos_ in ("PRON", "DET", "ADP", "AUX", "CCONJ", "PART") for t in doc[start:end]):
            return
        key = (start, end)
        if key not in found or _PRIORITY[source] < _PRIORITY[found[key]]:
            found[key] = source

    for ent in doc.ents:
        add(ent.start, ent.end, "ent")
    mentions = SentenceMentions(doc, Chunk("", 0, doc.text, 0, len(doc.text)))
    for m in mentions.named(iter(range(10 ** 6)).__next__):
        add(m.start, m.end, "mention")
    for tok in doc:
        if tok.pos_ in _NOMINAL or tok.like_num:
            m = mentions.mention(tok)
            if m is not None:
                add(m.start, m.end, "mention" if m.label else "noun")
            if tok.pos_ in ("NOUN", "NUM") or tok.like_num:
                add(tok.i, tok.i + 1, "noun")
    for chunk in doc.noun_chunks:
        add(chunk.start, chunk.end, "chunk")
    run: list[Token] = []
    for tok in [*doc, None]:
        if tok is not None and (tok.pos_ == "PROPN" or run and (tok.lower_ in ("of", "de", "&", "the", "and", "-")
                                                             or tok.tag_ == "POS")
                                and tok.i + 1 < len(doc) and doc[tok.i + 1].pos_ == "PROPN"):
            run.append(tok)
            continue
        if run:
            add(run[0].i, run[-1].i + 1, "propn")
        run = []
    for start, end in _quoted(doc):
        add(start, end, "quote")
    for tok in doc:                            # a title as a whole: the subject of "X is a 1988 film"
        if tok.dep_ in ("nsubj", "nsubjpass", "appos") and tok.left_edge.text[:1].isupper() \
                and 2 <= tok.right_edge.i + 1 - tok.left_edge.i <= 12:
            add(tok.left_edge.i, tok.right_edge.i + 1, "subtree")
    _variants(doc, dict(found), add)
    ranked = sorted(found.items(), key=lambda kv: (_PRIORITY[kv[1]], kv[0][1] - kv[0][0], kv[0]))[:limit]
    out = [Candidate(s, e, doc[s:e].text, _label(doc, s, e), _head(doc, s, e), src) for (s, e), src in ranked]
    return sorted(out, key=lambda c: (c.start, c.end))


def _variants(doc: Doc, spans: dict[tuple[int, int], str], add: Any) -> None:
    """Add the variants of the module docstring's last item for the spans found so far."""
    ents = {(e.start, e.end): e.label_ for e in doc.ents}
    by_start: dict[int, list[int]] = {}
    for s, e in spans:
        by_start.setdefault(s, []).append(e)
    for (s, e), _ in spans.items():
        if s > 0 and doc[s - 1].text in _ARTICLES and doc[s].text[:1].isupper():
            add(s - 1, e, "variant")                                  # "The Quiet Valley"
        if e + 1 < len(doc) and doc[e].text in (":", "'s", "’s") and doc[e + 1].text[:1].isupper():
            after = e + 2 if doc[e + 1].text in _ARTICLES else e + 1
            for e2 in by_start.get(after, []):                      # "Nord: Two Seasons", "Mira's Long Night"
                add(s, e2, "variant")
        if ents.get((s, e)) in _PLACES and e + 1 < len(doc) and doc[e].text == ",":
            for e2 in by_start.get(e + 1, []):
                if ents.get((e + 1, e2)) in _PLACES:
                    add(s, e2, "variant")                            # "Kvarnvik, Vermont"
        last = doc[e - 1]
        if e - s >= 2 and last.pos_ == "NOUN" and last.is_lower and all(t.dep_ in ("compound", "amod", "nmod")
                                                                        for t in doc[s:e - 1]):
            add(s, e - 1, "variant")                                  # "folk metal" of "folk metal genre"
        first = doc[s]
        if e - s >= 2 and (first.ent_type_ == "NORP" or first.pos_ == "ADJ" and first.text[:1].isupper()) \
                and doc[s + 1].text[:1].isupper():
            add(s + 1, e, "variant")                                  # "Ines Varga" of "Norwegian Ines Varga"


def _ancestors(tok: Token) -> list[int]:
    chain = [tok.i]
    while tok.head.i != tok.i and len(chain) < 64:
        tok = tok.head
        chain.append(tok.i)
    return chain


def dependency_path(doc: Doc, a: Candidate, b: Candidate) -> list[int]:
    """Tokens on the dependency path between the heads of ``a`` and ``b``, outside both spans, in path order.

    Heads in different sentences of the passage are joined through their sentence roots.
    """
    up_a, up_b = _ancestors(doc[a.head]), _ancestors(doc[b.head])
    common = next((i for i in up_a if i in set(up_b)), None)
    if common is None:
        path = up_a + list(reversed(up_b))
    else:
        path = up_a[:up_a.index(common) + 1] + list(reversed(up_b[:up_b.index(common)]))
    return [i for i in path if not (a.start <= i < a.end or b.start <= i < b.end)]


def between(doc: Any, a: Candidate, b: Candidate) -> list[int]:
    """Token indices strictly between the two spans (empty when they touch or overlap)."""
    lo, hi = (a.end, b.start) if a.start < b.start else (b.end, a.start)
    return list(range(lo, hi)) if lo < hi else []
