"""Spans and literals written the way a dataset's gold writes them, learned from its training examples.

A text says "May 8, 1923", "29,000 people", "the US" or "The Keeper's Lamp"; a knowledge base may
write ``1923-05-08``, ``29000``, ``United States`` and ``The Keeper 's Lamp``. :class:`Normaliser`
learns these habits from aligned (text span, gold string, relation) examples of a training split and
applies them to new spans. Nothing is hand-written per dataset; the candidate renderings are general:

Dates (:func:`parse_date`)
    A span that reads as a date (ISO, "8 May 1923", "May 8th, 1923", "May 1923", a year) is rendered in
    the format the training golds of that relation used for a span of the same precision (day, month
    or year): ISO ``1923-05-08``, ``08 May 1923``, ``May 8, 1923``, ``May 1923`` or the year, missing
    parts filled with the first day or month when the golds do so.
Numbers (:func:`parse_number`)
    Thousands separators dropped; a decimal point added (``1095.0``) and a unit written after the
    number (``4120.5 (millimetres)``) when the relation's golds do so.
Names
    A span the training golds wrote otherwise is replaced by the gold form seen most often (an alias
    table: "US" -> "United States", "Tessel" -> "Tessel (album)"), unless the span was more often kept as
    written; tokenised spellings (``Harbour : Part Two``) are used when the relation's golds use them.

:func:`similarity` aligns a training gold string with the text span it stands for (exact, date or
number equivalence, the same name without a bracketed qualifier, acronyms, near spellings).

Examples
--------
>>> parse_date("May 8th, 1923"), parse_date("1923-05-08"), parse_date("in 1923"), parse_date("Tallinn")
((1923, 5, 8), (1923, 5, 8), (1923, None, None), None)
>>> parse_number("29,000 people"), parse_number("4120.5 mm"), parse_number("Route 66 East")
(('29000', 'people'), ('4120.5', 'mm'), None)
>>> n = Normaliser()
>>> _ = n.fit([("May 8, 1923", "1923-05-08", "birthDate"), ("US", "United States", "country"),
...        ("29,000", "29000", "staff"), ("1,095", "1095.0", "runwayLength")])
>>> n.apply("3 June 1950", "birthDate"), n.apply("US", "country"), n.apply("2,100", "runwayLength")
('1950-06-03', 'United States', '2100.0')
>>> similarity("U.S.", "United States") >= 0.8, similarity("Oslo", "Bergen") < 0.5
(True, True)
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any, Iterable

from kgllm.types import entity_id

__all__ = ["parse_date", "parse_number", "render_date", "tokenised", "similarity", "Normaliser"]

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_MONTH_OF = {m: i + 1 for i, m in enumerate(_MONTHS)}
_MONTH_OF.update({m[:3]: i + 1 for i, m in enumerate(_MONTHS)})
_MONTH_OF["sept"] = 9
_M = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
     r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_D = r"(\d{1,2})(?:st|nd|rd|th)?"
_Y = r"(\d{4})"
_DATES = [
    (re.compile(rf"{_Y}-(\d{{1,2}})-(\d{{1,2}})"), "ymd"),
    (re.compile(rf"(?:the )?{_D} (?:of )?{_M},? {_Y}", re.I), "dmy"),
    (re.compile(rf"{_M} (?:the )?{_D},? {_Y}", re.I), "mdy"),
    (re.compile(rf"{_M},? {_Y}", re.I), "my"),
    (re.compile(rf"(?:in |the year )?{_Y}", re.I), "y"),
]
_NUMBER = re.compile(r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_UNIT_SUFFIX = re.compile(r"^[-+]?[\d.]+ \((.+)\)$")
_BRACKET = re.compile(r"\s*\([^()]*\)\s*$")
_ARTICLE = re.compile(r"^(?:the|a|an) ")
_TOKENISE = [(re.compile(r"(\w)'s\b"), r"\1 's"), (re.compile(r"(\w)n't\b"), r"\1 n't"),
             (re.compile(r"(\S): "), r"\1 : "), (re.compile(r"(\S)/(\S)"), r"\1 / \2"),
             (re.compile(r"(\w)'(re|ve|ll|d|m)\b"), r"\1 '\2"), (re.compile(r"(\w)!"), r"\1 !"),
             (re.compile(r"(\w)\?"), r"\1 ?")]
DATE_FORMATS = ("iso", "dmy", "mdy", "my", "year", "fill_iso", "fill_dmy")
NUMBER_FORMATS = ("plain", "float", "plain_unit", "float_unit")


def parse_date(text: str) -> tuple[int, int | None, int | None] | None:
    """``(year, month, day)`` of a span that is a date (month and day None when the text lacks them)."""
    t = text.strip().strip(".,()")
    for pattern, kind in _DATES:
        m = pattern.fullmatch(t)
        if not m:
            continue
        g = m.groups()
        if kind == "ymd":
            y, mo, d = int(g[0]), int(g[1]), int(g[2])
        elif kind == "dmy":
            y, mo, d = int(g[2]), _MONTH_OF[g[1].lower().rstrip(".")[:4].rstrip("t") if g[1].lower().startswith(
                "sept") else g[1].lower()[:3]], int(g[0])
        elif kind == "mdy":
            y, mo, d = int(g[2]), _MONTH_OF[g[0].lower()[:3]], int(g[1])
        elif kind == "my":
            return (int(g[1]), _MONTH_OF[g[0].lower()[:3]], None) if 1000 <= int(g[1]) <= 2100 else None
        else:
            y = int(g[0])
            return (y, None, None) if 1000 <= y <= 2100 else None
        return (y, mo, d) if 1 <= mo <= 12 and 1 <= d <= 31 and 1000 <= y <= 2100 else None
    return None


def render_date(parts: tuple[int, int | None, int | None], fmt: str) -> str | None:
    """``parts`` written in a format of :data:`DATE_FORMATS` (None when the parts do not fill it).

    >>> render_date((2031, None, None), "fill_dmy"), render_date((1988, 4, 16), "iso"), render_date((1988, 4, None), "iso")
    ('01 January 2031', '1988-04-16', None)
    """
    y, m, d = parts
    if fmt.startswith("fill_"):
        m, d, fmt = m or 1, d or 1, fmt[5:]
    if fmt == "year":
        return str(y)
    if fmt == "my":
        return f"{_MONTHS[m - 1].title()} {y}" if m else None
    if m is None or d is None:
        return None
    if fmt == "iso":
        return f"{y:04d}-{m:02d}-{d:02d}"
    if fmt == "dmy":
        return f"{d:02d} {_MONTHS[m - 1].title()} {y}"
    return f"{_MONTHS[m - 1].title()} {d}, {y}"


def parse_number(text: str) -> tuple[str, str] | None:
    """The number a span starts with (separators dropped) and the word after it; None unless the span is one.

    A span is a number when it starts with one (after a currency sign) and has at most two words after it.
    """
    t = text.strip().lstrip("$€£¥").strip()
    m = _NUMBER.match(t)
    if not m:
        return None
    rest = t[m.end():].strip()
    if len(rest.split()) > 2 or rest[:1].isalpha() and rest[:1].isupper():
        return None
    number = m.group(0).replace(",", "").replace("−", "-")
    return number, rest.split()[0].lower() if rest else ""


def tokenised(text: str) -> str:
    """``text`` with clitics and some punctuation split off as separate words (a treebank-style spelling).

    >>> tokenised("The Keeper's Lamp"), tokenised("Harbour: Part Two"), tokenised("He Won't Wait")
    ("The Keeper 's Lamp", 'Harbour : Part Two', "He Wo n't Wait")
    """
    for pattern, repl in _TOKENISE:
        text = pattern.sub(repl, text)
    return text


def _acronym(short: str, long: str) -> bool:
    letters = re.sub(r"[^A-Za-z]", "", short)
    if not (2 <= len(letters) <= 6) or not short.replace(".", "").isupper():
        return False
    initials = "".join(w[0] for w in re.findall(r"[A-Za-z]+", long) if w[0].isupper())
    return initials.upper() == letters.upper()


def similarity(span: str, gold: str) -> float:
    """How surely the text span ``span`` stands for the gold string ``gold`` (1 for the same name, 0 for none).

    >>> similarity("Tessel", "Tessel (Brannock Hall album)"), similarity("8 May 1923", "1923-05-08")
    (0.95, 0.95)
    """
    a, b = entity_id(span), entity_id(gold)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    bare = entity_id(_BRACKET.sub("", gold))
    untokenised = entity_id(gold.replace(" 's", "'s").replace(" : ", ": ").replace(" n't", "n't"))
    if a in (bare, untokenised) or entity_id(tokenised(span)) == b:
        return 0.95
    if _ARTICLE.sub("", a) == _ARTICLE.sub("", bare):
        return 0.93
    da, db = parse_date(span), parse_date(gold)
    if da and db:
        same = da[0] == db[0] and all(x is None or y is None or x == y for x, y in zip(da[1:], db[1:]))
        return 0.95 if same else 0.0
    na, nb = parse_number(span), parse_number(gold)
    if na and nb:
        return 0.95 if float(na[0]) == float(nb[0]) else 0.0
    if na or nb:
        return 0.0
    if _acronym(span, _BRACKET.sub("", gold)):
        return 0.9
    from rapidfuzz import fuzz

    score = max(fuzz.ratio(a, bare), fuzz.token_sort_ratio(a, bare)) / 100.0
    if score >= 0.85:
        return 0.9 * score
    wa, wb = set(re.findall(r"\w+", a)), set(re.findall(r"\w+", bare))
    if wa and wb and (wa <= wb or wb <= wa) and min(len(wa), len(wb)) / max(len(wa), len(wb)) >= 0.5:
        return 0.8
    return score * 0.5


def _date_precision(parts: tuple[int, int | None, int | None]) -> str:
    return "d" if parts[2] else "m" if parts[1] else "y"


class Normaliser:
    """Writes spans as a training split's golds write them (see the module docstring).

    Learned tables (all counts): ``dates[relation][precision][format]``, ``numbers[relation][format]``,
    ``units[relation][unit]``, ``tokens[relation]["yes"|"no"]`` and ``aliases[relation][span id][gold]`` (the
    relation ``""`` for all relations together).
    """

    def __init__(self) -> None:
        self.dates: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        self.numbers: dict[str, Counter] = defaultdict(Counter)
        self.units: dict[str, Counter] = defaultdict(Counter)
        self.tokens: dict[str, Counter] = defaultdict(Counter)
        self.aliases: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))

    # ------------------------------------------------------------------ learning
    def fit(self, examples: Iterable[tuple[str, str, str]]) -> "Normaliser":
        """Learn from aligned ``(span as written, gold string, relation)`` examples."""
        for span, gold, relation in examples:
            self._learn(span, gold, relation)
        return self

    def _learn(self, span: str, gold: str, relation: str) -> None:
        unit = _UNIT_SUFFIX.match(gold)
        if unit:
            self.units[relation][unit.group(1)] += 1
        parts = parse_date(span)
        if parts is not None and parse_date(gold) is not None:
            hits = [f for f in DATE_FORMATS if render_date(parts, f) == gold]
            for f in hits or ["surface"]:
                self.dates[relation][_date_precision(parts)][f] += 1
            return
        number = parse_number(span)
        if number is not None and parse_number(gold.split(" (")[0]) is not None:
            hits = [f for f in NUMBER_FORMATS if self._render_number(number[0], f, relation) == gold]
            for f in hits or ["surface"]:
                self.numbers[relation][f] += 1
            return
        if tokenised(span) != span:
            self.tokens[relation]["yes" if gold == tokenised(span) or entity_id(gold) == entity_id(tokenised(span))
                                  else "no"] += 1
        for rel in {relation, ""}:
            self.aliases[rel][entity_id(span)][gold] += 1

    # ------------------------------------------------------------------ applying
    def _render_number(self, number: str, fmt: str, relation: str) -> str | None:
        value = number + ".0" if fmt.startswith("float") and "." not in number else number
        if fmt.endswith("_unit"):
            units = self.units.get(relation)
            if not units:
                return None
            value = f"{value} ({units.most_common(1)[0][0]})"
        return value

    def _best(self, table: dict[str, Any], relations: Iterable[str]) -> Counter:
        """Counts for ``relations`` (the first one known; else all of them summed)."""
        rels = list(relations)
        for r in rels[:1]:
            if r in table and sum(table[r].values()):
                return table[r]
        total: Counter = Counter()
        for r in rels[1:]:
            if r in table:
                total.update(table[r])
        return total

    def apply(self, span: str, relation: str = "", schema: Iterable[str] = (), label: str = "") -> str:
        """``span`` written as the golds of ``relation`` (or of the other ``schema`` relations) write values.

        ``label`` is the span's entity label; a span labelled as a name is never read as a date or number.
        """
        rels = [relation, *[r for r in schema if r != relation]]
        parts = parse_date(span) if label in ("", "DATE", "CARDINAL", "TIME") else None
        if parts is not None:
            formats = Counter()
            for r in rels[:1]:
                formats = self.dates.get(r, {}).get(_date_precision(parts), Counter())
            if not formats:
                for r in rels[1:]:
                    formats.update(self.dates.get(r, {}).get(_date_precision(parts), Counter()))
            for fmt, _ in formats.most_common():
                out = span if fmt == "surface" else render_date(parts, fmt)
                if out:
                    return out
            return span
        number = parse_number(span) if label not in ("PERSON", "ORG", "GPE", "LOC", "FAC", "NORP",
                                                      "WORK_OF_ART", "EVENT", "PRODUCT", "LAW") else None
        if number is not None:
            formats = self._best(self.numbers, rels)
            for fmt, _ in formats.most_common():
                out = span if fmt == "surface" else self._render_number(number[0], fmt, relation)
                if out:
                    return out
            return number[0] if formats or not number[1] else span
        for rel in (relation, ""):
            known = self.aliases.get(rel, {}).get(entity_id(span))
            if known:
                gold, n = known.most_common(1)[0]
                same = sum(c for g, c in known.items() if entity_id(g) == entity_id(span))
                return gold if n > same else span
        votes = self._best(self.tokens, rels)
        return tokenised(span) if votes and votes["yes"] > votes["no"] else span

    # ------------------------------------------------------------------ saving
    def to_json(self) -> dict[str, Any]:
        """The learned tables as plain JSON data."""
        return {"dates": {r: {p: dict(c) for p, c in v.items()} for r, v in self.dates.items()},
                "numbers": {r: dict(c) for r, c in self.numbers.items()},
                "units": {r: dict(c) for r, c in self.units.items()},
                "tokens": {r: dict(c) for r, c in self.tokens.items()},
                "aliases": {r: {k: dict(c) for k, c in table.items() if any(entity_id(g) != k for g in c)}
                            for r, table in self.aliases.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Normaliser":
        """A normaliser from :meth:`to_json` data.

        >>> n = Normaliser().fit([("May 8, 1923", "1923-05-08", "birthDate")])
        >>> Normaliser.from_json(n.to_json()).apply("June 1, 1950", "birthDate")
        '1950-06-01'
        """
        n = cls()
        for r, v in data.get("dates", {}).items():
            for p, c in v.items():
                n.dates[r][p] = Counter(c)
        for name in ("numbers", "units", "tokens"):
            table = getattr(n, name)
            for k, c in data.get(name, {}).items():
                table[k] = Counter(c)
        for r, table in data.get("aliases", {}).items():
            for k, c in table.items():
                n.aliases[r][k] = Counter(c)
        return n
