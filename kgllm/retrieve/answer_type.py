"""What kind of answer a question asks for, and how well a graph entity fits it.

The question word sets the expected *kind* of the answer: ``who`` a person or an
organisation, ``when`` (and ``what year``) a date, ``where`` a place, ``how many`` a
number, ``which X`` / ``what X`` an ``X`` (a kind when ``X`` names one: "which
country" asks for a place). An entity's kind comes from the shape of its name (``2014``
is a year, so a date; ``42`` a number) or else from its named-entity label (``PERSON``,
``ORG``, ``GPE``...); entities of unknown kind are neither favoured nor penalised, so
graphs without types (KGQA knowledge bases) rank as before. ``which X`` is also read
against what the graph says an entity is: ``(e, is_a, X)``, or a relation ``X_in`` /
``X_of`` leaving ``e`` ("Lund is a city in Sweden" gives ``city_in``).

Examples
--------
>>> from kgllm.retrieve.link import tokenize
>>> sorted(answer_type(tokenize("Who founded Acme?")).kinds)
['org', 'person']
>>> answer_type(tokenize("In what year was Acme founded?")).kinds
frozenset({'date'})
>>> answer_type(tokenize("What is the capital of Peru?")) is None
True
>>> from kgllm.types import Entity
>>> entity_kind(Entity("1998", "1998")), entity_kind(Entity("ana", "Ana", "PERSON")), entity_kind(Entity("x", "x"))
('date', 'person', '')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from kgllm.retrieve.link import STOPWORDS
from kgllm.types import Entity

__all__ = ["shape_kind", "AnswerType", "answer_type", "as_when", "entity_kind", "fit", "relation_nouns"]

#: Kind of each spaCy entity label; other labels (EVENT, NORP, WORK_OF_ART...) are of no kind here.
LABEL_KIND = {"PERSON": "person", "ORG": "org", "GPE": "place", "LOC": "place", "FAC": "place",
              "DATE": "date", "TIME": "date", "CARDINAL": "number", "QUANTITY": "number",
              "MONEY": "number", "PERCENT": "number", "ORDINAL": "number"}
#: Nouns that name a kind of answer ("which country" asks for a place).
NOUN_KIND = {
    **dict.fromkeys("country nation state city town village place region province county continent island "
                    "capital location birthplace homeland district municipality suburb borough valley".split(), "place"),
    **dict.fromkeys("company firm organisation organization corporation business startup university college "
                    "school team club band party agency institution group publisher manufacturer maker bank "
                    "airline studio society association federation laboratory lab".split(), "org"),
    **dict.fromkeys("person man woman people".split(), "person"),
    **dict.fromkeys("year date day month decade century".split(), "date"),
    **dict.fromkeys("number amount".split(), "number"),
}
#: Kinds a question word asks for, and kinds it tolerates (an answer of another known kind is a mismatch).
_WH = {"who": ({"person", "org"}, set()), "whom": ({"person", "org"}, set()),
       "when": ({"date"}, {"number"}), "where": ({"place"}, {"org"})}
_HOW = {"many": ({"number"}, {"date"}), "much": ({"number"}, {"date"}), "old": ({"number"}, {"date"})}
#: Words that may come before the question word ("In which country ...", "By whom ...").
_LEAD = frozenset("in on at for from by to during since with after before".split())
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})s?")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(rf"(\d{{1,2}} )?{_MONTH},? \d{{4}}|{_MONTH} \d{{1,2}},? \d{{4}}|\d{{4}}-\d{{2}}(-\d{{2}})?"
                   r"|\d{1,2}/\d{1,2}/\d{2,4}")
_NUMBER = re.compile(r"[-+]?\d+([.,]\d+)*")
_NOUN_RELATION = re.compile(r"([a-z]+)_(in|of)")
#: Relations saying what an entity is: their object names its kind.
IS_A = frozenset({"is_a", "instance_of", "type", "isA", "a"})


@dataclass(frozen=True, slots=True)
class AnswerType:
    """The answer a question asks for.

    ``kinds``: kinds that fit (empty: any); ``tolerated``: other kinds that are no
    mismatch; ``nouns``: the words after ``which``/``what`` ("which river": ``river``),
    matched against what the graph says an entity is.
    """

    kinds: frozenset[str]
    tolerated: frozenset[str] = frozenset()
    nouns: frozenset[str] = frozenset()


def answer_type(tokens: list[str]) -> AnswerType | None:
    """The answer type of a tokenised question (see :func:`kgllm.retrieve.link.tokenize`), or None.

    Only a question word opening the question counts (after at most one preposition):
    in "name the woman who ..." the ``who`` is no question word.

    Examples
    --------
    >>> answer_type(["where", "was", "ana", "born"]).kinds
    frozenset({'place'})
    >>> t = answer_type(["which", "river", "crosses", "lund"])
    >>> sorted(t.kinds), sorted(t.nouns)
    ([], ['crosses', 'river'])
    >>> answer_type(["how", "many", "moons", "has", "mars"]).kinds
    frozenset({'number'})
    """
    i = 1 if tokens and tokens[0] in _LEAD else 0
    if i >= len(tokens):
        return None
    wh = tokens[i]
    if wh in _WH:
        kinds, tolerated = _WH[wh]
        return AnswerType(frozenset(kinds), frozenset(tolerated))
    if wh == "how" and i + 1 < len(tokens) and tokens[i + 1] in _HOW:
        kinds, tolerated = _HOW[tokens[i + 1]]
        return AnswerType(frozenset(kinds), frozenset(tolerated))
    if wh not in ("which", "what"):
        return None
    run: list[str] = []
    for tok in tokens[i + 1:i + 3]:  # "which river", "which football club": the noun is near
        if tok in STOPWORDS or not tok.isalpha():
            break
        run.append(tok)
    if not run:
        return None
    kind = next((NOUN_KIND[w] for w in (_singular(t) for t in run) if w in NOUN_KIND), None)
    nouns = frozenset(_singular(t) for t in run)
    return AnswerType(frozenset({kind}) if kind else frozenset(), frozenset(), nouns)


#: Kinds whose nouns only name the answer's type ("which company"); place nouns also name a level of
#: containment the path must climb ("in which country was x born" is one hop past the town).
_TYPE_ONLY = frozenset({"org", "person"})


def as_when(tokens: list[str]) -> list[str]:
    """``what year`` / ``which date`` ... read as ``when``: the noun names the answer's type, not a relation.

    An organisation or person noun ("which company") is blanked for the same reason (it stays in
    :func:`answer_type`, which reads the original tokens).

    A date is a leaf of the graph: the hop that reaches it is the one the rest of the
    question asks ("In what year was X founded?" is answered by ``founded_in``), so the
    noun must not pay for a hop of its own ("year" is close to ``born_in``). The token
    count is kept, so spans over ``tokens`` stay valid.

    Examples
    --------
    >>> as_when(["in", "what", "year", "was", "acme", "founded"])
    ['in', 'what', 'when', 'was', 'acme', 'founded']
    >>> as_when(["which", "country", "is", "lund", "in"])
    ['which', 'country', 'is', 'lund', 'in']
    >>> as_when(["which", "company", "did", "ana", "join"])
    ['which', 'which', 'did', 'ana', 'join']
    """
    i = 1 if tokens and tokens[0] in _LEAD else 0
    if i + 1 < len(tokens) and tokens[i] in ("which", "what"):
        kind = NOUN_KIND.get(_singular(tokens[i + 1]))
        if kind == "date":
            return tokens[: i + 1] + ["when"] + tokens[i + 2:]
        if kind in _TYPE_ONLY:  # "which company did x join": the noun is the answer's type, not a hop
            return tokens[: i + 1] + [tokens[i]] + tokens[i + 2:]
    return list(tokens)


def _singular(word: str) -> str:
    """``word`` without a plural ``s`` when the rest is a kind noun ("countries" -> "country")."""
    if word.endswith("ies") and word[:-3] + "y" in NOUN_KIND:
        return word[:-3] + "y"
    if word.endswith("s") and word[:-1] in NOUN_KIND:
        return word[:-1]
    return word


def _forms(words: Iterable[str]) -> set[str]:
    """Words with their singular guesses, so "rivers" meets "river"."""
    out: set[str] = set()
    for w in words:
        out.add(w)
        if w.endswith("ies"):
            out.add(w[:-3] + "y")
        elif w.endswith("s") and len(w) > 3:
            out.add(w[:-1])
    return out


def entity_kind(entity: Entity) -> str:
    """Kind of an entity: from the shape of its name (a year is a date), else from its label; ``""``: unknown.

    Examples
    --------
    >>> entity_kind(Entity("3", "3")), entity_kind(Entity("ghent", "Ghent", "GPE"))
    ('number', 'place')
    >>> entity_kind(Entity("may 4, 1990", "May 4, 1990"))
    'date'
    """
    return shape_kind(entity.name) or (LABEL_KIND.get(entity.type.upper(), "") if entity.type else "")


def shape_kind(name: str) -> str:
    """``"date"`` or ``"number"`` when the name's shape says so (``"2014"``, ``"3 May 2001"``, ``"340"``), else ``""``.

    >>> shape_kind("1990s"), shape_kind("12"), shape_kind("Oslo")
    ('date', 'number', '')
    """
    name = name.strip().lower()
    if _YEAR.fullmatch(name) or _DATE.fullmatch(name):
        return "date"
    return "number" if _NUMBER.fullmatch(name) else ""


def relation_nouns(relation: str, obj_name: str) -> set[str]:
    """Nouns an outgoing fact says its subject is: ``is_a`` objects, ``X_in`` / ``X_of`` relations.

    Examples
    --------
    >>> sorted(relation_nouns("city_in", "Sweden")), sorted(relation_nouns("is_a", "Seaside Town"))
    (['city'], ['town'])
    >>> relation_nouns("born_in", "Lund")
    {'born'}
    """
    if relation in IS_A:
        words = re.findall(r"[a-z]+", obj_name.lower())
        return {_singular(words[-1])} if words else set()
    m = _NOUN_RELATION.fullmatch(relation)
    return {m.group(1)} if m else set()


def fit(want: AnswerType, entity: Entity, nouns: Iterable[str] = ()) -> int:
    """How an entity fits: ``2`` the graph says it is what was asked, ``1`` of the asked kind, ``-1`` another kind.

    ``0``: unknown (or a tolerated kind). ``nouns``: what the graph says the entity is
    (see :func:`relation_nouns`); one of ``want.nouns`` among them is a fit whatever the
    entity's kind.

    Examples
    --------
    >>> who = answer_type(["who", "founded", "acme"])
    >>> fit(who, Entity("ana", "Ana", "PERSON")), fit(who, Entity("2001", "2001")), fit(who, Entity("x", "x"))
    (1, -1, 0)
    >>> fit(answer_type(["which", "river"]), Entity("oda", "Oda", "LOC"), {"river"})
    2
    """
    if want.nouns and _forms(want.nouns) & _forms(nouns):
        return 2
    kind = entity_kind(entity)
    if not kind or not want.kinds:
        return 0
    if kind in want.kinds:
        return 1
    return 0 if kind in want.tolerated else -1
