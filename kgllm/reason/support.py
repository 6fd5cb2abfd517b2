"""Does a sentence support an answer? The kind of a span, and the judgement of a candidate.

An answer is *supported* only when the sentence it cites

(a) names the question's entity, or a word that refers to it (a pronoun, "the company");
(b) states the asked relation: a word of the question's predicate, a form derived from it or a
    close synonym (:mod:`kgllm.reason.reader` finds these), linked to that entity in the
    sentence's dependency tree (at most :data:`MAX_ENTITY_DISTANCE` edges away);
(c) contains the answer, linked to that word (at most :data:`MAX_ANSWER_DISTANCE` edges);
(d) and the answer is of the kind the question asks for (a date for *when*, a number for *how
    many*, a person or organisation for *who*, a place for *where*, an X for *which X*: see
    :mod:`kgllm.retrieve.answer_type`); a span of unknown kind does not count;

and the sentence says the question's qualifiers too ("before joining X", "in 2019").
Otherwise :class:`SupportJudgement` says why not. ``confidence`` is a fixed, readable product
of the same checks (nothing fitted); the evaluations report its calibration.

Examples
--------
>>> j = judge(None, 1.0, "place", 1, 1, 1, True)
>>> j.supported, j.reasons
(True, ())
>>> j = judge(None, 1.0, "", 0, 5, 1, True, want_kinds=True)
>>> j.supported, j.reasons
(False, ("the answer's kind is unknown", 'the answer is not linked to the asked relation in its sentence'))
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from kgllm.retrieve.answer_type import LABEL_KIND, NOUN_KIND, AnswerType, answer_type, relation_nouns, shape_kind
from kgllm.retrieve.link import tokenize

__all__ = ["SupportJudgement", "judge", "span_kind", "normalize_answer", "question_type",
           "MAX_ANSWER_DISTANCE", "MAX_ENTITY_DISTANCE"]

#: Most dependency edges between the answer and the word stating the relation ("founded ... by Y": 2).
MAX_ANSWER_DISTANCE = 3
#: Most dependency edges between the question's entity and that word.
MAX_ENTITY_DISTANCE = 4

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}
_NUMERIC = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"})


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces.

    >>> normalize_answer("The  Eiffel-Tower!")
    'eiffeltower'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


_WH_WORDS = frozenset({"who", "whom", "whose", "when", "where", "which", "what", "how"})
_LEADS = frozenset("in on at for from by to during since with after before".split())


def question_type(question: str) -> AnswerType | None:
    """The answer type of a question whose question word may come late ("X starred which actress?").

    :func:`~kgllm.retrieve.answer_type.answer_type` reads the question from its first question word
    (with the preposition before it).

    >>> sorted(question_type("Toad Hall is a hall in a university in what city?").kinds)
    ['place']
    >>> question_type("Ines Kobal was born when?").kinds
    frozenset({'date'})
    """
    tokens = tokenize(question)
    i = _question_word(tokens)
    if i is None:
        return None
    if i > 0 and tokens[i - 1] in _LEADS:
        i -= 1
    return answer_type(tokens[i:])


def _question_word(tokens: list[str]) -> int | None:
    """Index of the question word: the opening one (after a preposition), else the last one."""
    for k in (0, 1):
        if k < len(tokens) and tokens[k] in _WH_WORDS and (k == 0 or tokens[0] in _LEADS):
            return k
    found = [k for k, t in enumerate(tokens) if t in _WH_WORDS]
    return found[-1] if found else None


def span_kind(text: str, label: str, entity: Any = None, store: Any = None,
              span: Any = None) -> tuple[dict[str, bool], set[str]]:
    """The kinds an answer span may be (``date``, ``number``, ``person``, ``org``, ``place``), each marked strong
    (``True``: its shape, or a noun the text or graph puts on it) or weak (an NER label, the graph's type, a
    place preposition before it), and the nouns the text says it is.

    A span of time ("twelve years") is a number, not a date. Nouns come from the name's head word
    ("Feldmark Railway": railway), a title before it in the sentence ("the operator X"), an
    apposition ("the church, St. Veit,"), "the district of X", and the graph's ``is_a`` facts.
    The small NER model often mislabels names (a town tagged PERSON), so a label alone is weak
    evidence; the object of "in", "at", "near", "from" or "to" may be a place.

    >>> span_kind("twelve years", "DATE")[0], span_kind("2 May 1961", "DATE")[0], span_kind("Oslo", "GPE")[0]
    ({'number': True}, {'date': True}, {'place': False})
    """
    from kgllm.extract.dates import is_duration

    nouns: set[str] = set()
    if shape_kind(text) == "date" and label not in ("MONEY", "QUANTITY", "PERCENT"):
        return {"date": True}, nouns  # "1994" tagged CARDINAL is still a year
    if label in ("DATE", "TIME"):
        strong = bool(re.search(r"\d", text)) or bool(shape_kind(text))
        return ({"number": True} if is_duration(text) else {"date": strong}), nouns
    if label in _NUMERIC:
        return {"number": True}, nouns
    shaped = shape_kind(text)
    if shaped:
        return {shaped: True}, nouns
    kinds: dict[str, bool] = {}
    words = re.findall(r"[a-z]+", text.lower())
    if words and text[:1].isupper():
        nouns.add(_singular(words[-1]))
    if span is not None:
        nouns |= _context_nouns(span)
    if entity is not None and store is not None:
        for fact in store.neighbors(entity.id, "out"):
            obj = store.get_entity(fact.object)
            nouns |= relation_nouns(fact.relation, obj.name if obj else fact.object)
    for n in nouns:
        if n in NOUN_KIND:
            kinds[NOUN_KIND[n]] = True
    for lab in (label, entity.type.upper() if entity is not None and entity.type else ""):
        if LABEL_KIND.get(lab) and LABEL_KIND[lab] not in ("date", "number"):
            kinds.setdefault(LABEL_KIND[lab], False)
    if span is not None and span.root.dep_ == "pobj" and span.root.head.lower_ in _PLACE_PREPS \
            and any(t.pos_ == "PROPN" for t in span):
        kinds.setdefault("place", False)
    return kinds, nouns


_PLACE_PREPS = frozenset("in at near from to outside inside across".split())


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _context_nouns(span: Any) -> set[str]:
    """Nouns the sentence puts on a span: a title before it, an apposition, "the N of X"."""
    out: set[str] = set()
    doc, root = span.doc, span.root
    i = span.start - 1
    while i >= 0 and doc[i].pos_ in ("NOUN", "ADJ", "PROPN", "PUNCT") and doc[i].text != ",":
        if doc[i].pos_ == "NOUN" and doc[i].text.islower():
            out.add(doc[i].lemma_.lower())
        i -= 1
    if root.dep_ == "appos" and root.head.pos_ == "NOUN":
        out.add(root.head.lemma_.lower())
    for child in root.children:
        if child.dep_ == "appos" and child.pos_ == "NOUN":
            out.add(child.lemma_.lower())
    if root.dep_ == "pobj" and root.head.lower_ == "of" and root.head.head.pos_ == "NOUN":
        out.add(root.head.head.lemma_.lower())  # "the district of Landeck"
    return out


@dataclass(frozen=True, slots=True)
class SupportJudgement:
    """Whether a cited sentence supports an answer, how confident that is, and why not (``reasons``)."""

    supported: bool
    confidence: float
    reasons: tuple[str, ...] = ()


def judge(analysis: Any, strength: float, kind: str, fitness: int, d_answer: int, d_entity: int,
          qualifiers_ok: bool, want_kinds: bool | None = None, answer_role: str = "?", entity_role: str = "?",
          roles_ok: bool = True, context_ok: bool = True) -> SupportJudgement:
    """Judge a candidate read off a sentence (see the module docstring).

    Parameters
    ----------
    analysis : QuestionAnalysis or None
        The question (its asked kind and nouns); None: read ``want_kinds`` instead.
    strength : float
        How strongly the sentence states the predicate (1: the same word; a synonym's similarity).
    kind, fitness : str, int
        The answer's kind and how it fits the asked one (2 the text says it is the X asked, 1 of the
        asked kind, 0 unknown).
    d_answer, d_entity : int
        Dependency edges from the answer, and from the question's entity, to the predicate word.
    qualifiers_ok : bool
        The sentence says the question's qualifiers too.
    answer_role, entity_role : str
        Their roles as arguments of the predicate word (:mod:`kgllm.reason.roles`; ``""``: none).
    roles_ok : bool
        Those roles are the ones the question gives them.
    context_ok : bool
        The sentence also says most of the question's other nouns ("the *east stand* of X").
    """
    want = getattr(analysis, "want", None)
    asks_kind = bool(want is not None and want.kinds) if want_kinds is None else want_kinds
    asks_noun = bool(want is not None and want.nouns and not want.kinds)
    reasons: list[str] = []
    if strength <= 0:
        reasons.append("the sentence does not state the asked relation")
    if asks_kind and fitness <= 0:
        reasons.append("the answer's kind is unknown")
    if asks_noun and fitness < 2:
        reasons.append(f"the text does not say the answer is a {' or '.join(sorted(want.nouns))}")
    if d_answer > MAX_ANSWER_DISTANCE or (not answer_role and d_answer > 1):
        reasons.append("the answer is not linked to the asked relation in its sentence")
    if d_entity > MAX_ENTITY_DISTANCE or (not entity_role and d_entity > 1):
        reasons.append("the sentence does not say it of the question's entity")
    if not roles_ok:
        reasons.append("the sentence gives the entity or the answer another role than the question")
    if not context_ok:
        reasons.append("the sentence leaves out what else the question names")
    if not qualifiers_ok:
        reasons.append("the sentence does not say the question's qualifier")
    type_p = 0.95 if fitness >= 2 else 0.9 if fitness == 1 else (0.6 if not asks_kind else 0.3)
    near_p = {0: 0.95, 1: 0.95, 2: 0.9, 3: 0.75}.get(d_answer, 0.3) * (1.0 if answer_role else 0.7)
    ent_p = (0.95 if d_entity <= 2 else 0.85 if d_entity <= MAX_ENTITY_DISTANCE else 0.3) * (
        1.0 if entity_role else 0.7)
    confidence = (min(1.0, strength) * type_p * near_p * ent_p * (1.0 if qualifiers_ok else 0.4)
                  * (1.0 if roles_ok else 0.3) * (1.0 if context_ok else 0.5))
    return SupportJudgement(not reasons, round(confidence, 4), tuple(reasons))
