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

from kgllm.retrieve.answer_type import AnswerType, answer_type
from kgllm.retrieve.link import tokenize

__all__ = ["SupportJudgement", "judge", "normalize_answer", "question_type",
           "MAX_ANSWER_DISTANCE", "MAX_ENTITY_DISTANCE"]

#: Most dependency edges between the answer and the word stating the relation ("founded ... by Y": 2).
MAX_ANSWER_DISTANCE = 3
#: Most dependency edges between the question's entity and that word.
MAX_ENTITY_DISTANCE = 4

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}


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
    if asks_noun and fitness < 1:
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
