"""What an answer span is, and how it fits the question: kinds, nouns, derived words, counted nouns.

A span's *kinds* (:func:`span_kind`) come from its shape (a year is a date), the nouns the text
or the graph puts on it ("the village of X": a place) and, as weaker evidence, its NER label
(the small model often mislabels names). :func:`fitness` grades a span against the kind a
question asks for, using its role in the sentence where the label says nothing.

Examples
--------
>>> derived("found", "founder"), derived("restore", "restoration"), derived("win", "winter")
(True, True, False)
"""

from __future__ import annotations

import re
from typing import Any

from typing import TYPE_CHECKING

from kgllm.extract.dates import NUMBER_WORDS
from kgllm.reason.support import normalize_answer
from kgllm.retrieve.answer_type import IS_A, LABEL_KIND, NOUN_KIND, relation_nouns, shape_kind
from kgllm.types import Entity

if TYPE_CHECKING:
    from kgllm.reason.analysis import QuestionAnalysis

__all__ = ["derived", "span_kind", "fitness", "counted", "counts_asked", "names_question_entity", "part_of"]

_NUMERIC = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"})
#: Suffixes that derive one word from another ("found" -> "founder", "restore" -> "restoration").
_SUFFIXES = ("er", "ers", "or", "ors", "ed", "ing", "ion", "ions", "ation", "ations", "ment", "ments", "ship", "ance",
             "ence", "al", "ure", "age", "ee", "ist", "s", "es", "ies", "ied", "y", "ity", "ive")

def derived(a: str, b: str) -> bool:
    """Whether one word is the other plus a derivational or inflectional suffix (a final e/y may drop).

    >>> derived("found", "founder"), derived("restore", "restoration"), derived("marry", "marriage")
    (True, True, True)
    >>> derived("win", "winter"), derived("form", "former")
    (False, True)
    """
    short, long_ = sorted((a, b), key=len)
    if len(short) < 3 or short == long_:
        return short == long_
    stems = [short] + ([short[:-1]] if short[-1] in "ey" and len(short) > 3 else [])
    for stem in stems:
        rest = long_[len(stem):]
        if long_.startswith(stem) and (rest in _SUFFIXES or (rest[:1] == "i" and rest[1:] in _SUFFIXES)):
            return True
    return False


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
    if label in _NUMERIC and (re.search(r"\d", text) or any(w in NUMBER_WORDS and w not in ("a", "an")
                                                            for w in text.lower().split())):
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
            if fact.relation in IS_A:
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


_PLACE_PREPS = frozenset("in at near from to on outside inside across".split())


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


def names_question_entity(text: str, analysis: QuestionAnalysis) -> bool:
    """Whether a span is (part of) a name the question uses."""
    key = f" {normalize_answer(text)} "
    if not key.strip():
        return True
    for le in analysis.seeds:
        name = f" {normalize_answer(le.mention)} "
        if key in name or name in key:
            return True
    return any(f" {normalize_answer(q.text)} " == key for q in analysis.qualifiers)


def part_of(text: str, entity: Entity) -> bool:
    """Whether ``text`` is one of the entity's names or a part of one ("Moser" of "Elena Moser")."""
    key = f" {normalize_answer(text)} "
    return any(key in f" {normalize_answer(n)} " for n in (entity.name, *entity.aliases))


def fitness(analysis: QuestionAnalysis, kinds: dict[str, bool], nouns: set[str], span: Any,
             role: str = "") -> int | None:
    """How a span fits the asked kind: 2 the text says it is the X asked, 1 of the asked kind, 0 unknown;
    None when its shape or the text says it is of another kind (a weak label alone only costs).

    A name's role counts where its label is missing or weak: the doer of the asked relation is a
    "who" (a person or organisation), the object of a place preposition a "where"."""
    want = analysis.want
    if want is None:
        return 0
    if want.nouns and noun_fit(want.nouns, nouns):
        return 2
    asked = {NOUN_KIND.get(n) for n in want.nouns} & {"place"}
    if asked and any(NOUN_KIND.get(n) in asked for n in nouns):
        return 0  # "a city" when a country is asked: a place, but of another level
    if not want.kinds:  # "which language": a kind-less noun the text does not put on the span
        if any(kinds.values()) and want.nouns:
            return None
        named = any(t.pos_ == "PROPN" for t in span)
        return 1 if named and want.nouns and role and role != "owner" else 0
    allowed = want.kinds | (want.tolerated & {"org"})  # a year is no count, a count no date
    if any(k in allowed for k in kinds):
        return 1
    if any(kinds.values()):
        return None
    named = any(t.pos_ == "PROPN" for t in span)
    if named and want.kinds & {"person", "org"} and role in ("agent", "patient", "value"):
        return 1
    if named and "place" in want.kinds and role[5:] in _PLACE_PREPS:
        return 1
    if want.kinds <= {"person", "org", "place"} and not any(t.pos_ == "PROPN" or t.ent_type_ for t in span):
        return None  # a common noun ("the photographer") is no name
    return 0


def counted(text: str, analysis: QuestionAnalysis) -> str:
    """"How many spectators ...?" is answered by the number: the counted noun the question names is dropped.

    >>> from kgllm.reason.analysis import QuestionAnalysis
    >>> counted("18,400 spectators", QuestionAnalysis("q", type_noun="spectator"))
    '18,400'
    >>> counted("12 home goals", QuestionAnalysis("q", type_noun="goal"))
    '12'
    >>> counted("Feldmark Railway", QuestionAnalysis("q", type_noun="railway"))  # only a number is counted
    'Feldmark Railway'
    """
    words = text.split()
    numbers = [k for k, w in enumerate(words[:-1]) if any(ch.isdigit() for ch in w) or w.lower() in NUMBER_WORDS]
    if not numbers or not analysis.type_noun:
        return text
    if derived(words[-1].lower(), analysis.type_noun) or words[-1].lower() == analysis.type_noun:
        return " ".join(words[:numbers[-1] + 1])  # "21 league goals": the number, without what it counts
    return text


def counts_asked(text: str, analysis: QuestionAnalysis, said: str = "") -> bool:
    """Whether a number answers "how many N": it counts N (its text ends with N, or ``said`` -- the words around
    it -- hold N), or the question counts nothing named.

    >>> from kgllm.reason.analysis import QuestionAnalysis
    >>> q = QuestionAnalysis("How many caps did Ines win?", type_noun="cap")
    >>> counts_asked("34 caps", q), counts_asked("four years", q), counts_asked("34", q, "won 34 caps")
    (True, False, True)
    """
    noun = analysis.type_noun
    if not noun or "how many" not in analysis.question.lower():
        return True
    words = [w.lower() for w in f"{text} {said}".split()]
    return any(w == noun or derived(noun, w) for w in words)


def noun_fit(asked: frozenset[str], nouns: set[str]) -> bool:
    return any(a == n or derived(a, n) for a in asked for n in nouns)
