"""Values in a sentence: dates, durations, relative dates, quantities with units, money, counts.

A value is never an entity of its own: it is the object of a fact, typed with a label
(:data:`~kgllm.extract.mentions.NUMERIC_LABELS`), and a fact's subject is never a value.

Labels
    ``DATE`` for a date or year ("14 June 1953", "March 2017", "1988"); ``QUANTITY`` for a
    duration ("nine years": a length of time, never a date) and a number with a unit
    ("23 kilometres", "11 tonnes"); ``MONEY`` for an amount with a currency ("85 million
    euros"); ``CARDINAL`` for a count of things ("about 350 families").
Time expressions (:func:`time_modifiers`)
    The dates and durations that qualify a verb: a date entity under it ("in 1990",
    "Since 2003", "(born 14 June 1953)") with its preposition, or a duration ("for nine
    years", "lasted 41 days").
Relative dates (:func:`relative_year`)
    "two years later", "four years earlier", "the following year", "a decade later", "later
    that year" become a year when a year was stated before them in the same paragraph (the
    most recent one); the value remembers that sentence (``Mention.anchor``) so the fact
    cites both. Without such a year they give nothing.

Examples
--------
>>> relative_shift("two years later"), relative_shift("The following year"), relative_shift("a decade earlier")
(2, 1, -10)
>>> relative_shift("in 1990") is None
True
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from kgllm.extract.mentions import Mention, is_duration

if TYPE_CHECKING:
    from spacy.tokens import Span, Token

    from kgllm.extract.coref import Referents

__all__ = ["TimeExpr", "time_modifiers", "relative_shift", "record_years", "life_dates"]

_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"a": 1, "an": 1, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
                      "eighty": 80, "ninety": 90, "hundred": 100})
_UNIT_YEARS = {"year": 1, "decade": 10, "century": 100}
_RELATIVE = re.compile(r"(?:(\w+) (year|decade|century)s?|(\w+) centuries) (later|after|afterwards|earlier|before|"
                       r"previously|on)", re.I)
_NEXT = re.compile(r"the (following|next|previous|preceding|same) year|the year (after|before)|"
                   r"(?:later |earlier )?(?:in )?that (?:same )?year", re.I)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_MONTH = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d", re.I)
_RANGE = re.compile(r"(?:between |from )?(\d{3,4}) ?(?:and|to|[-–—]) ?(\d{3,4})", re.I)
_LIFE = re.compile(r"\(?\s*(?:c\.\s*)?(\d{3,4})\s*[-–—]\s*(?:c\.\s*)?(\d{3,4})\s*\)?")


class TimeExpr(NamedTuple):
    """A date or duration qualifying a verb: the value, its preposition (``""`` when none), its kind."""

    value: Mention
    prep: str
    kind: str  # "date" or "duration"
    tokens: frozenset[int]


def relative_shift(text: str) -> int | None:
    """Years a relative date moves from its anchor year ("two years later" -> 2), or None if it is not one."""
    text = text.strip().lower()
    m = _RELATIVE.fullmatch(text)
    if m:
        amount = m.group(1) or m.group(3)
        unit = m.group(2) or "century"
        n = int(amount) if amount.isascii() and amount.isdigit() else _NUMBER_WORDS.get(amount)
        if n is None:
            return None
        sign = -1 if m.group(4) in ("earlier", "before", "previously") else 1
        return sign * n * _UNIT_YEARS[unit]
    m = _NEXT.fullmatch(text)
    if m:
        word = (m.group(1) or m.group(2) or "").lower()
        return 1 if word in ("following", "next", "after") else -1 if word in ("previous", "preceding", "before") \
            else 0
    return None


def _date_span(tok: Token, refs: Referents) -> Span | None:
    ent = refs.mentions.ent_of.get(tok.i)
    if ent is None or ent.label_ not in ("DATE", "TIME"):
        return None
    before = refs.doc[ent.start - 1] if ent.start > 0 else None
    if before is not None and before.like_num and before.i not in refs.mentions.ent_of and before.text.isascii() \
            and before.text.isdigit() and 1 <= int(before.text) <= 31 and _MONTH.match(ent.text + " 1"):
        return refs.doc[ent.start - 1:ent.end]  # "4 March 1960" where the tagger left out the day
    return ent


def _anchor(refs: Referents, before: int) -> tuple[int, int] | None:
    """(year, chunk) of the most recent year stated before token ``before`` in this paragraph."""
    for ent in reversed([e for e in refs.doc.ents if e.end <= before and e.label_ == "DATE"]):
        if relative_shift(ent.text) is None:
            years = _YEAR.findall(ent.text)
            if years:
                return int(years[-1]), refs.chunk.index
    for para, chunk, year in reversed(refs.state.years):
        if para == refs.state.paragraph:
            return year, chunk
        break
    return None


def _value(span: Span, refs: Referents, start: int) -> tuple[Mention, str] | None:
    """The value of a date span: a date, a duration, a resolved relative date; None when it has none."""
    text = span.text
    head = span.root.i
    lead = text.split()[0].lower() if text.split() else ""
    if lead in ("since", "until", "from", "in", "on", "by", "during", "after", "before"):
        text = text.split(" ", 1)[1] if " " in text else text
    shift = relative_shift(text)
    if shift is not None:
        found = _anchor(refs, start)
        if found is None:
            return None
        year, chunk = found
        anchor = chunk if chunk != refs.chunk.index else -1
        return Mention(str(year + shift), "DATE", span.start, span.end, head, refs.chunk.index, anchor=anchor), "date"
    if is_duration(text):
        return Mention(text, "QUANTITY", span.start, span.end, head, refs.chunk.index), "duration"
    if not _YEAR.search(text) and not _MONTH.search(text):
        return None  # "today", "the spring", "the age of nineteen": no date to state
    return Mention(text, "DATE", span.start, span.end, head, refs.chunk.index), "date"


def time_modifiers(verb: Token, refs: Referents) -> list[TimeExpr]:
    """The dates and durations that qualify ``verb`` (see the module docstring)."""
    out: list[TimeExpr] = []
    seen: set[int] = set()

    def add(span: Span, prep: Token | None) -> None:
        if span.start in seen:
            return
        seen.add(span.start)
        tokens = frozenset(range(span.start, span.end)) | ({prep.i} if prep is not None else frozenset())
        word = prep.lower_ if prep is not None else span[0].lower_
        whole = refs.doc[prep.i:prep.right_edge.i + 1] if prep is not None else span
        bounds = _RANGE.fullmatch(whole.text)
        if word in ("between", "from") and bounds:  # "between 2008 and 2012": from 2008, to 2012
            for year, to in ((bounds.group(1), "from"), (bounds.group(2), "to")):
                value = Mention(year, "DATE", span.start, span.end, span.root.i, refs.chunk.index)
                out.append(TimeExpr(value, to, "date", tokens))
            return
        got = _value(span, refs, span.start if prep is None else prep.i)
        if got is not None:
            out.append(TimeExpr(got[0], prep.lower_ if prep is not None else "", got[1], tokens))

    objects = [c for c in verb.children if c.dep_ == "dobj" and c.pos_ == "NOUN" and c.i not in refs.mentions.ent_of]
    for child in [*verb.children, *(p for o in objects for p in o.children if p.dep_ == "prep")]:
        if child.dep_ == "prep":
            for pobj in child.children:
                span = _date_span(pobj, refs) if pobj.dep_ == "pobj" else None
                if span is not None:
                    add(span, child)
        if child.dep_ in ("npadvmod", "advmod", "tmod", "dobj", "nummod", "prep", "appos") or child.like_num:
            span = _date_span(child, refs)  # "(born 14 June 1953)", "two years later", "lasted 41 days"
            if span is not None and (child.dep_ != "dobj" or is_duration(span.text)):
                add(span, None)
    if verb.dep_ == "relcl" and verb.head.dep_ == "ROOT":  # "The following year it moved": the date heads it
        span = _date_span(verb.head, refs)
        if span is not None:
            add(span, None)
    return out


def record_years(refs: Referents) -> None:
    """Remember the years this sentence states (anchors for later relative dates in its paragraph)."""
    for ent in refs.doc.ents:
        if ent.label_ == "DATE" and relative_shift(ent.text) is None:
            for y in _YEAR.findall(ent.text):
                refs.state.years.append((refs.state.paragraph, refs.chunk.index, int(y)))


def life_dates(name: Token, refs: Referents) -> tuple[Mention, Mention] | None:
    """Birth and death years of a bracketed "(1901-1977)" after a name, or None."""
    for child in name.rights:
        if child.dep_ not in ("appos", "npadvmod", "nummod", "dep") or not child.like_num:
            continue
        lo, hi = child.left_edge.i, child.right_edge.i + 1
        if lo == 0 or refs.doc[lo - 1].text != "(":
            continue
        m = _LIFE.fullmatch(refs.doc[lo:hi].text)
        if m:
            k = refs.chunk.index
            return (Mention(m.group(1), "DATE", lo, hi, child.i, k), Mention(m.group(2), "DATE", lo, hi, child.i, k))
    return None
