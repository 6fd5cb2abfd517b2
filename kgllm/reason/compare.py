"""Comparisons between two named options: "Who was born first, A or B?", "Which is longer, A or B?".

The options are the two entities the question names around "or" (or "A and B" after "which of").
Each option's value is read like any answer (:class:`~kgllm.reason.reader.DocumentReader`): the
question's predicate ("born"), asked of that option alone, for a date (a comparative of time:
*first*, *earlier*, *older*, *later*, *last*, *younger*, *newer*) or a number (a comparative of
size: *longer*, *taller*, *larger*, *more* ... and their opposites). The answer is the option
whose value is the earliest or latest, largest or smallest, citing both values' sentences; when
either value is not stated, or they are equal, the comparison is not answered.

Examples
--------
>>> comparison("Who was born first, Ines Kobal or Rui Sola?")
('date', 'min')
>>> comparison("Which river is longer, the Sava or the Tarn?"), comparison("Who founded Velmora Bikes?")
(('number', 'max'), None)
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from kgllm.extract.dates import NUMBER_WORDS, years_in
from kgllm.reason.analysis import QuestionAnalysis
from kgllm.retrieve.answer_type import AnswerType
from kgllm.types import Answer, Subgraph, unique_sources

__all__ = ["comparison", "compare"]

_EARLY = frozenset("first earlier earliest older oldest before sooner".split())
_LATE = frozenset("last later latest younger youngest newer newest after more recently".split())
_MORE = frozenset("longer taller larger bigger higher more greater heavier wider deeper farther further".split())
_LESS = frozenset("shorter smaller lower fewer less lighter narrower shallower nearer".split())
_OR = re.compile(r"\bor\b", re.I)


def comparison(question: str) -> tuple[str, str] | None:
    """``(kind, direction)`` a comparative question asks (``date``/``number``, ``min``/``max``), or None."""
    words = set(re.findall(r"[a-z]+", question.lower()))
    if not _OR.search(question) and "which of" not in question.lower():
        return None
    if words & _EARLY:
        return "date", "min"
    if words & _LATE:
        return "date", "max"
    if words & _MORE:
        return "number", "max"
    if words & _LESS:
        return "number", "min"
    return None


def _value(text: str, kind: str) -> float | None:
    if kind == "date":
        years = years_in(text)
        return float(years[0]) if years else None
    m = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    if m:
        return float(m.group().replace(",", ""))
    word = next((NUMBER_WORDS[w] for w in text.lower().split() if w in NUMBER_WORDS and w not in ("a", "an")), None)
    return float(word) if word is not None else None


def compare(question: str, analysis: QuestionAnalysis, reader: Any, sub: Subgraph) -> Answer | None:
    """The option the question's comparison picks (see the module docstring), or None when it is no comparison
    of two named options (then it is answered as any question)."""
    asked = comparison(question)
    if asked is None or len(analysis.seeds) < 2:
        return None
    kind, direction = asked
    options = sorted(analysis.seeds[:2], key=lambda le: le.span)
    values: list[tuple[float, Any, Any]] = []
    for le in options:
        one = replace(analysis, seeds=[le], want=AnswerType(frozenset({kind})), wh_role="", seed_role="",
                      qualifiers=[q for q in analysis.qualifiers if q.entity not in {o.entity_id for o in options}])
        found = next((c for c in reader.candidates(one) if c.supported and _value(c.text, kind) is not None), None)
        if found is None:
            named = reader.store.get_entity(le.entity_id)
            why = f"the text does not state {'when' if kind == 'date' else 'how much'} for " \
                  f"{named.name if named is not None else le.mention}"
            return Answer(question, f"The text does not say: {why}.", [], [], False, [], 0.0, sub, reasons=(why,))
        values.append((_value(found.text, kind), le, found))
    (a, le_a, ca), (b, le_b, cb) = values
    if a == b:
        why = "both values are the same"
        return Answer(question, f"The text does not say: {why}.", [], [], False, [], 0.0, sub, reasons=(why,))
    pick = (le_a, ca) if (a < b) == (direction == "min") else (le_b, cb)
    from kgllm.reason.answers import from_candidate

    cited = [from_candidate(question, c, reader.store, sub) for c in (ca, cb)]
    facts = [f for ans in cited for f in ans.facts]
    named = reader.store.get_entity(pick[0].entity_id)
    return Answer(question, named.name if named is not None else pick[0].mention, facts, unique_sources(facts),
                  True, [pick[0].entity_id], round(min(ca.confidence, cb.confidence), 4), sub)
