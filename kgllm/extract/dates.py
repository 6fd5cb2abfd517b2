"""Dates in text: years, relative dates ("two years later") resolved against an anchor year, durations.

General English, no model: a *year* is a four-digit number from 1000 to 2099; a *relative
date* is "N years later/earlier/after/before", "a year later", "a decade later", "the
following/next/previous year"; a *duration* is a count of time units without an anchor
("twelve years", "for three months"), which is a quantity, never a date.

Examples
--------
>>> relative_offset("Two years later")
2
>>> relative_offset("four years earlier"), relative_offset("the following year"), relative_offset("in 1990")
(-4, 1, None)
>>> years_in("The mill opened in 1874 and was rebuilt in 1902.")
[1874, 1902]
>>> is_duration("twelve years"), is_duration("2 May 1961"), is_duration("two years later")
(True, False, False)
"""

from __future__ import annotations

import re

__all__ = ["NUMBER_WORDS", "relative_offset", "years_in", "is_duration", "resolve_relative"]

#: Small numbers written as words.
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {"a": 1, "an": 1, "thirty": 30, "forty": 40, "fifty": 50}
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_UNIT = {"year": 1, "years": 1, "decade": 10, "decades": 10}
_RELATIVE = re.compile(r"\b(\d+|[a-z]+)\s+(years?|decades?)\s+(later|earlier|after(?:wards)?|before|on)\b", re.I)
_NEXT = re.compile(r"\b(?:the\s+)?(following|next|subsequent|previous|preceding)\s+year\b", re.I)
_TIME_UNITS = r"(?:years?|months?|weeks?|days?|hours?|minutes?|decades?|centuries|century|seasons?)"
_DURATION = re.compile(rf"^(?:for\s+|about\s+|nearly\s+|almost\s+|over\s+|some\s+)?(?:\d+|[a-z]+)(?:\s+and\s+a\s+half)?\s+"
                       rf"{_TIME_UNITS}$", re.I)


def relative_offset(text: str) -> int | None:
    """Years a relative date moves from its anchor (+ later, - earlier), or None when ``text`` is none."""
    m = _RELATIVE.search(text)
    if m:
        count = int(m.group(1)) if m.group(1).isdigit() else NUMBER_WORDS.get(m.group(1).lower())
        if count is None:
            return None
        step = count * _UNIT[m.group(2).lower()]
        return -step if m.group(3).lower() in ("earlier", "before") else step
    m = _NEXT.search(text)
    if m:
        return -1 if m.group(1).lower() in ("previous", "preceding") else 1
    return None


def years_in(text: str) -> list[int]:
    """The years written in ``text``, in order."""
    return [int(y) for y in _YEAR.findall(text)]


def is_duration(text: str) -> bool:
    """Whether ``text`` is a span of time ("twelve years", "for 3 months"), not a date."""
    return bool(_DURATION.match(text.strip()))


def resolve_relative(text: str, anchor: int | None) -> int | None:
    """The year a relative date names, given the anchor year before it (None: not resolvable).

    >>> resolve_relative("Two years later", 2011), resolve_relative("two years later", None)
    (2013, None)
    """
    offset = relative_offset(text)
    if offset is None or anchor is None:
        return None
    return anchor + offset
