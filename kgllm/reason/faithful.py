"""Faithful wording: does an answer's text claim only what its evidence holds?

A generated answer is checked claim by claim: every *name* it mentions (a run of
capitalised words, or a word with a digit), every *number* and every *date* must
occur in the evidence: the names of the entities of the cited facts, the relation
words, and the source sentences of those facts (and the question, which the answer may
repeat). Words are compared lower-cased, with ``_`` read as a space, as whole words. A
sentence-opening word that is a function word ("The", "It") is no claim.

Examples
--------
>>> from kgllm.types import Fact, Provenance
>>> p = Provenance("bio", 0, 0, 33, "rules", "Ada Brennholt was born in Velmora.")
>>> facts = [Fact("ada brennholt", "born_in", "velmora", provenance=(p,))]
>>> unsupported_claims("Velmora lies in the Netherlands, Germany. Ada Brennholt was born in Velmora.", facts)
['Netherlands', 'Germany']
>>> unsupported_claims("Ada Brennholt was born in Velmora.", facts)
[]
>>> unsupported_claims("She was born in 1990 in Velmora.", facts)
['1990']
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from kgllm.retrieve.link import STOPWORDS
from kgllm.types import Fact

__all__ = ["claims", "unsupported_claims", "evidence_text"]

# A claim: a run of capitalised words (inner "of"/"de"/"-" allowed), a number or a date-like token.
_WORD = r"[A-Z\u00C0-\u00DE](?:[\w'\-]|\.(?=\w))*"
_CLAIM = re.compile(rf"{_WORD}(?:\s+(?:(?:of|de|da|van|von|the|and|del|la|le)\s+)?{_WORD})*|\d[\d,.:/\-]*\w*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)\s*[\"'(\[]*$")
#: Sentence-opening words that are no claim (beyond :data:`~kgllm.retrieve.link.STOPWORDS`).
_OPENERS = frozenset("yes no answer according based so thus therefore hence because since none unknown "
                     "graph fact facts".split())
_NORM = re.compile(r"[^\w]+")


def _norm(text: str) -> str:
    return " " + " ".join(_NORM.sub(" ", text.replace("_", " ").lower()).split()) + " "


def claims(text: str) -> list[str]:
    """Names, numbers and dates an answer text mentions, in order (duplicates kept once).

    >>> claims("Mara Osei founded Kestrel Dynamics in 2014. The company grew.")
    ['Mara Osei', 'Kestrel Dynamics', '2014']
    """
    out: list[str] = []
    for m in _CLAIM.finditer(text):
        span = m.group(0).rstrip(".,-:")
        words = span.split()
        # A sentence-opening function word is no claim; drop it and keep the rest of the run.
        if words and _SENTENCE_START.search(text[: m.start()]) and words[0].lower() in STOPWORDS | _OPENERS:
            words = words[1:]
            while words and words[0].lower() in STOPWORDS:
                words = words[1:]
        span = " ".join(words)
        if span and span.lower() not in STOPWORDS and span not in out:
            out.append(span)
    return out


def evidence_text(facts: Iterable[Fact], subgraph: Any = None, question: str = "") -> str:
    """The text claims are checked against: entity names (and aliases), relation words, source sentences."""
    parts = [question]
    for f in facts:
        for eid in (f.subject, f.object):
            parts.append(eid)
            ent = subgraph.entities.get(eid) if subgraph is not None else None
            if ent is not None:
                parts.extend([ent.name, *ent.aliases])
        parts.append(f.relation)
        parts.extend(p.sentence for p in f.provenance if p.sentence)
    return _norm(" . ".join(parts))


def unsupported_claims(text: str, facts: Iterable[Fact], subgraph: Any = None, question: str = "") -> list[str]:
    """The claims of ``text`` (see :func:`claims`) that its evidence does not hold.

    Parameters
    ----------
    text : str
        The answer's wording.
    facts : iterable of Fact
        The cited facts (their entities, relations and source sentences are the evidence).
    subgraph : Subgraph, optional
        Supplies the entities' names as written and their aliases.
    question : str, optional
        The question: an answer may repeat what it names.

    Returns
    -------
    list of str
        The unsupported claims, in order; empty when the wording is faithful.
    """
    evidence = evidence_text(list(facts), subgraph, question)
    return [c for c in claims(text) if _norm(c) not in evidence]
