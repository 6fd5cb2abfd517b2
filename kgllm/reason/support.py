"""Does the evidence answer the question? Judging an answer and the sentence it cites.

An answer is *supported* when the sentence it cites (a) contains the answer, (b) holds
an answer of the kind the question asks for (a year for "when", a person for "who"...:
see :mod:`kgllm.retrieve.answer_type`), (c) says something the question asks about: at
least one of the question's relation words (its content words outside its entity
names, e.g. "born", "directed") appears in the sentence, and (d) is about one of the
question's entities: the sentence or its passage's title names one, or the passage is
one hop from one (its title is named in a passage that names a question entity); a
*nested* question ("Who founded the company that makes X?") is not answered in the
passage about the entity it names, but one hop past it.

``confidence`` multiplies four probabilities read off the same checks; it is a fixed,
readable formula (nothing fitted to evaluation data), and the text-QA evaluation
reports how well it is calibrated (expected calibration error).

Examples
--------
>>> j = judge_support("Where was Ines Kobal born?", "Drava", "Ines Kobal was born in Drava in 1961.",
...                   question_entities=["Ines Kobal"], answer_kind="place")
>>> j.supported, j.reasons
(True, ())
>>> j = judge_support("Where was Ines Kobal born?", "1961", "Ines Kobal was born in Drava in 1961.",
...                   question_entities=["Ines Kobal"], answer_kind="date")
>>> j.supported, j.reasons
(False, ('the answer is a date, the question asks for a place',))
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Iterable

from kgllm.retrieve.answer_type import AnswerType, answer_type
from kgllm.retrieve.link import STOPWORDS, tokenize

__all__ = ["SupportJudgement", "judge_support", "relation_words", "normalize_answer", "stem", "question_type",
           "nested_question"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces.

    >>> normalize_answer("The  Eiffel-Tower!")
    'eiffeltower'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def stem(word: str) -> str:
    """A crude stem for matching word forms ("directed" / "director" / "directs" -> "direct").

    >>> stem("directed"), stem("director"), stem("born"), stem("cities")
    ('direct', 'direct', 'born', 'citi')
    """
    word = word.lower().strip("'")
    for suffix in ("ations", "ation", "ings", "ing", "ers", "er", "ors", "or", "ies", "ied", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + ("i" if suffix in ("ies", "ied") else "")
    return word


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
    """Index of the question word: the opening one (after a preposition), else the last one.

    A late question word comes after any relative pronoun ("… a killer who worked for what family?").
    """
    for k in (0, 1):
        if k < len(tokens) and tokens[k] in _WH_WORDS and (k == 0 or tokens[0] in _LEADS):
            return k
    found = [k for k, t in enumerate(tokens) if t in _WH_WORDS]
    return found[-1] if found else None


_RELATIVE = frozenset({"who", "whom", "whose", "which", "that", "where"})


def nested_question(question: str) -> bool:
    """Whether the question holds a relative clause: the answer lies one hop past a named entity.

    >>> nested_question("Who founded the company that makes Velo bikes?"), nested_question("Who founded Velo?")
    (True, False)
    >>> nested_question("Ana Ruiz met a painter who lived in what town?")
    True
    """
    tokens = tokenize(question)
    i = _question_word(tokens)
    return any(t in _RELATIVE for k, t in enumerate(tokens) if k != i)


def relation_words(question: str, entity_names: Iterable[str] = ()) -> set[str]:
    """Stems of the question's content words that are not part of its entity names.

    >>> sorted(relation_words("Who painted the mural that Ana Ruiz restored?", ["Ana Ruiz"]))
    ['mural', 'paint', 'restor']
    """
    inside = {stem(t) for name in entity_names for t in tokenize(name)}
    out = set()
    for tok in tokenize(question):
        if tok in STOPWORDS or not tok.isalpha() or len(tok) < 3:
            continue
        s = stem(tok)
        if s not in inside:
            out.add(s)
    return out


@dataclass(frozen=True, slots=True)
class SupportJudgement:
    """Whether a cited sentence supports an answer, how confident that is, and why not (``reasons``)."""

    supported: bool
    confidence: float
    reasons: tuple[str, ...] = ()


def _mentions(text: str, name: str) -> bool:
    words = normalize_answer(name).split()
    return bool(words) and f" {' '.join(words)} " in f" {normalize_answer(text)} "


def judge_support(question: str, answer: str, sentence: str, title: str = "",
                  question_entities: Iterable[str] = (), answer_kind: str = "",
                  answer_nouns: Iterable[str] = (), bridged: bool = False,
                  want: AnswerType | None = None, own_passage: bool = False) -> SupportJudgement:
    """Judge whether ``sentence`` (from the passage titled ``title``) supports ``answer`` to ``question``.

    Parameters
    ----------
    question, answer, sentence, title : str
        The question, the proposed answer, the cited sentence and its passage's title.
    question_entities : iterable of str
        Names of the entities the question mentions (as linked).
    answer_kind : str
        Kind of the answer (``person``, ``org``, ``place``, ``date``, ``number`` or ``""``:
        unknown), e.g. from :func:`~kgllm.retrieve.answer_type.entity_kind`.
    answer_nouns : iterable of str
        What the graph says the answer is (``{"river"}``), matched against "which X".
    bridged : bool
        The passage is one hop from a question entity (see the module docstring).
    own_passage : bool
        The passage is the one about an entity the question names (its title): a nested question
        (:func:`nested_question`) is not answered there.
    want : AnswerType, optional
        The question's answer type (default: read from the question).

    Returns
    -------
    SupportJudgement
    """
    reasons: list[str] = []
    entities = [e for e in question_entities if e.strip()]
    if want is None:
        want = question_type(question)
    # (a) the sentence states the answer
    contains = _mentions(sentence, answer) or _mentions(title, answer)
    if not contains:
        reasons.append("the cited sentence does not contain the answer")
    # (b) the answer is of the kind asked for
    type_p = 0.3
    if want is None or (not want.kinds and not want.nouns):
        reasons.append("the question's answer type is unknown")
    else:
        nouns = set(answer_nouns)
        if want.nouns and nouns & set(want.nouns):
            type_p = 0.95
        elif want.kinds and answer_kind in want.kinds:
            type_p = 0.9
        elif want.kinds and answer_kind and answer_kind not in want.tolerated:
            type_p = 0.05
            reasons.append(f"the answer is a {answer_kind}, the question asks for a "
                           + " or ".join(sorted(want.kinds)))
        elif want.kinds:
            type_p = 0.4
            reasons.append("the answer's kind is unknown")
        else:
            reasons.append(f"the answer is not shown to be a {' or '.join(sorted(want.nouns))}")
    # (c) relation words of the question in the sentence
    rel = relation_words(question, entities)
    said = {stem(t) for t in tokenize(sentence) + tokenize(title)}
    hits = rel & said
    if rel and not hits:
        reasons.append("the sentence shares no relation word with the question")
    rel_p = 0.5 if not rel else min(0.95, 0.35 + 0.6 * len(hits) / min(len(rel), 3))
    # (d) about the question's entities
    about = any(_mentions(sentence, e) or _mentions(title, e) for e in entities)
    if about:
        ent_p = 0.95
    elif bridged:
        ent_p = 0.7
    else:
        ent_p = 0.2
        reasons.append("the sentence is about none of the question's entities")
    if own_passage and nested_question(question):
        reasons.append("a nested question is answered one hop past its named entity, not in that entity's passage")
        ent_p *= 0.3
    if any(_mentions(answer, e) or _mentions(e, answer) for e in entities):
        reasons.append("the answer is an entity of the question")
        ent_p *= 0.2
    confidence = (0.95 if contains else 0.05) * type_p * rel_p * ent_p
    return SupportJudgement(not reasons, round(confidence, 4), tuple(reasons))
