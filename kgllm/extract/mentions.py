"""Entity mentions of one parsed sentence: the whole name, not its head word.

A mention is the syntactic noun phrase of a nominal token (compounds, adjectival
and numeric modifiers, ``X of Y`` inside a proper name) joined with any named
entity it overlaps, without leading determiners or possessives:

* a common-noun title in front of a name is left out ("the violinist Ines
  Varga" -> "Ines Varga");
* a place followed by a comma and the place that qualifies it is one name
  ("Kvarnvik, Vermont");
* a bracket the name opened is closed ("Order of Merit (Varnholm)").

Ids are the raw :func:`~kgllm.types.entity_id` of the surface form; resolution is
a later, separate step (:mod:`kgllm.extract.resolve`). Pronouns and what other
noun phrases stand for are :mod:`kgllm.extract.coref`'s business.

Examples
--------
>>> from kgllm.resources import get_nlp
>>> from kgllm.types import Chunk
>>> text = "Ada Lovelace lectured for the University of London."
>>> found = SentenceMentions(get_nlp()(text), Chunk("d", 0, text, 0, len(text)))
>>> [(m.text, m.label) for m in found.named(iter(range(9)).__next__)]
[('Ada Lovelace', 'PERSON'), ('University of London', 'ORG')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from kgllm.types import Chunk, entity_id

if TYPE_CHECKING:  # spaCy is imported where the pipeline is loaded, not here
    from spacy.tokens import Doc, Span, Token

__all__ = ["Mention", "SentenceMentions", "value_label", "is_duration", "noun_word", "CURRENCIES", "UNITS"]

# Shared vocabulary of the dependency patterns (spaCy's English labels).
NOMINAL = {"NOUN", "PROPN", "NUM", "PRON", "X", "SYM"}
NUMERIC_LABELS = {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"}
LOCATIONS = {"GPE", "LOC", "FAC"}
RELATIVE = {"who", "whom", "which", "that", "whose"}
SUBJ = {"nsubj", "nsubjpass", "csubj", "csubjpass"}
COPULAS = {"be", "become", "remain"}
#: Currency nouns (an amount of one is MONEY) and unit nouns (a number of one is a QUANTITY).
CURRENCIES = frozenset("euro dollar pound yen franc krone kroner krona kronor rupee yuan peso lira rouble ruble "
                       "zloty forint shilling rand won dinar dirham".split())
UNITS = frozenset("kilometre kilometer km metre meter mile foot feet inch centimetre centimeter cm millimetre "
                  "millimeter mm tonne ton kilogram kg gram gramme litre liter hectare acre watt kilowatt megawatt "
                  "volt hertz degree percent square cubic byte megabyte gigabyte terabyte horsepower knot "
                  "watt-hour kilowatt-hour".split())
_COUNT_HEADS = {"million", "billion", "thousand", "hundred", "trillion"}
_AMOUNT = (r"(?:\d[\d.,]*|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
           r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
           r"hundred|several|many|(?:a )?few)")
_DURATION = re.compile(rf"(?:(?:about|around|nearly|almost|over|more than|less than|some|just|only|roughly) )?"
                       rf"{_AMOUNT}(?:[ -]{_AMOUNT})?(?: and a half)?[ -](?:years?|months?|weeks?|days?|decades?|"
                       r"centur(?:y|ies)|hours?|minutes?|seasons?)", re.I)
_DATE_WORDS = re.compile(r"\d|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b(century|decade|year|"
                         r"today|yesterday|tomorrow|spring|summer|autumn|fall|winter|monday|tuesday|wednesday|"
                         r"thursday|friday|saturday|sunday)\b", re.I)
_LEFT_MODS = {"compound", "amod", "nummod", "nmod", "quantmod"}
_ARGUMENTS = {"nsubj", "nsubjpass", "dobj", "pobj"}
# Buildings that "the N of NAME" names, the whole phrase being the name ("the abbey of San Fedele").
_NAMED_BY_OF = {"abbey", "church", "chapel", "cathedral", "basilica", "monastery", "priory", "convent", "temple",
                "castle", "palace", "fortress", "fort", "tower", "bridge", "treaty", "battle", "siege"}
_RIGHT_MODS = {"compound", "flat", "nummod"}


def is_duration(text: str) -> bool:
    """Whether a date expression is a length of time, not a point in time.

    >>> is_duration("nine years"), is_duration("about 41 days"), is_duration("that year"), is_duration("1990")
    (True, True, False, False)
    """
    return bool(_DURATION.fullmatch(text.strip()))


def value_label(tok: Token, text: str, ent_label: str) -> str:
    """The label of a value headed by ``tok`` (surface ``text``, overlapping entity label ``ent_label``), or ``""``.

    A duration is a ``QUANTITY`` (never a date), a number with a unit a ``QUANTITY``, with a currency
    ``MONEY``, a counted noun ("about 350 families") a ``CARDINAL``.
    """
    lemma = tok.lemma_.lower()
    numbers = [c for c in tok.lefts if c.dep_ in ("nummod", "quantmod") and c.like_num
               and c.ent_type_ not in ("ORDINAL", "DATE")]
    if ent_label == "DATE" and is_duration(text):
        return "QUANTITY"
    if ent_label == "DATE" and not _DATE_WORDS.search(text):
        return ""  # "the age of 84": no date
    if ent_label in NUMERIC_LABELS and ent_label not in ("CARDINAL", "ORDINAL"):
        return "MONEY" if lemma in CURRENCIES else ent_label
    if numbers or (tok.like_num and (tok.pos_ == "NUM" or tok.ent_type_ == "CARDINAL")):
        if lemma in CURRENCIES:
            return "MONEY"
        if lemma in UNITS or is_duration(text):
            return "QUANTITY"
        if tok.pos_ in ("NOUN", "NUM") or lemma in _COUNT_HEADS:
            return "CARDINAL"
    return ent_label if ent_label in NUMERIC_LABELS - {"CARDINAL"} else ""


def _inside_name(tok: Token) -> bool:
    """A lower-case word between two capitalised ones: a particle of a name ("Palazzo del Comune")."""
    doc = tok.doc
    return 0 < tok.i < len(doc) - 1 and doc[tok.i - 1].text[:1].isupper() and doc[tok.i + 1].text[:1].isupper()


def noun_word(tok: Token) -> str:
    """The lemma of a noun, with the word a hyphen joins to it ("start-up", "co-founder")."""
    doc = tok.doc
    if tok.i >= 2 and doc[tok.i - 1].tag_ == "HYPH" and doc[tok.i - 2].head.i == tok.i:
        return f"{doc[tok.i - 2].lower_}-{tok.lemma_.lower()}"
    return tok.lemma_.lower()


@dataclass(slots=True)
class Mention:
    """A mention: token span ``[start, end)`` of one sentence, with its surface text.

    Attributes
    ----------
    text, label : str
        Surface form and spaCy entity label (``""`` when the phrase is no named entity).
    start, end, head : int
        Token span in the sentence and the index of its head token.
    sent : int
        Sentence (chunk) index in the document.
    group : int
        Id of the coordination group ("Ada and Ines"), -1 when alone; the antecedent of "they".
    subject : bool
        Subject of a main clause (the preferred antecedent of a pronoun).
    anchor : int
        For a value computed from another sentence (a relative date resolved against a year stated
        earlier), that sentence's chunk index; -1 otherwise.
    """

    text: str
    label: str
    start: int
    end: int
    head: int
    sent: int
    group: int = -1
    subject: bool = False
    anchor: int = -1
    _id: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._id = entity_id(self.text)

    @property
    def id(self) -> str:
        """The raw entity id of the surface form."""
        return self._id

    def is_person(self) -> bool:
        """Whether the mention is a PERSON entity."""
        return self.label == "PERSON"

    def is_named_thing(self) -> bool:
        """Whether the mention is a named entity other than a person or a number."""
        return bool(self.label) and self.label not in NUMERIC_LABELS and self.label != "PERSON"


class SentenceMentions:
    """The mentions of one parsed sentence (spaCy ``Doc``), each built once.

    Parameters
    ----------
    sdoc : spacy.tokens.Doc
        The parsed sentence.
    chunk : Chunk
        The sentence chunk it was parsed from (for the sentence index).
    """

    def __init__(self, sdoc: Doc, chunk: Chunk) -> None:
        self.doc = sdoc
        self.chunk = chunk
        self.ent_of: dict[int, Span] = {}  # token index -> the named entity span covering it
        for ent in sdoc.ents:
            for i in range(ent.start, ent.end):
                self.ent_of[i] = ent
        for tok in sdoc:  # tagging slips: "the crystallographer Priya Salgado", "The firm dates from ..."
            if tok.i not in self.ent_of and tok.is_alpha and (
                    (tok.pos_ == "PROPN" and tok.is_lower and not _inside_name(tok))
                    or (tok.pos_ == "ADJ" and tok.dep_ in _ARGUMENTS and any(c.dep_ == "det" for c in tok.children))):
                tok.tag_ = "NNS" if tok.lemma_.lower() != tok.lower_ and tok.lower_.endswith("s") else "NN"
                tok.pos_ = "NOUN"
        self._cache: dict[int, Mention] = {}

    def named(self, new_group: Callable[[], int]) -> list[Mention]:
        """Named mentions of the sentence in token order, coordinated ones sharing a group.

        ``new_group`` hands out fresh group ids (unique within the document).
        """
        heads = {ent.root.i for ent in self.doc.ents}
        for tok in self.doc:
            if tok.pos_ == "PROPN" and tok.dep_ not in ("compound", "flat") and tok.i not in self.ent_of:
                heads.add(tok.i)
        found = [m for m in (self.mention(self.doc[i]) for i in sorted(heads)) if m is not None]
        by_head = {m.head: m for m in found}
        for m in found:
            tok = self.doc[m.head]
            if m.group < 0 and any(c.i in by_head for c in tok.conjuncts):
                gid = new_group()
                for c in [tok, *tok.conjuncts]:
                    if c.i in by_head:
                        by_head[c.i].group = gid
        return found

    def mention(self, tok: Token) -> Mention | None:
        """The mention headed by ``tok`` (cached), or None for pronouns and punctuation."""
        if tok.i in self._cache:
            return self._cache[tok.i]
        if tok.pos_ not in NOMINAL or tok.pos_ == "PRON" or tok.lower_ in RELATIVE:
            return None
        start, end = self.bounds(tok)
        span = self.doc[start:end]
        label = ""
        ent = self.ent_of.get(tok.i)
        if ent is None:
            ent = next((self.ent_of[i] for i in range(start, end) if i in self.ent_of
                        and self.ent_of[i].label_ not in NUMERIC_LABELS), None)
        if ent is not None:
            label = ent.label_
        text = span.text.strip()
        if not entity_id(text):
            return None
        if tok.pos_ in ("NOUN", "NUM") or label in NUMERIC_LABELS:
            label = value_label(tok, text, label) or ("" if label in NUMERIC_LABELS else label)
        m = Mention(text, label, start, end, tok.i, self.chunk.index)
        self._cache[tok.i] = m
        return m

    def bounds(self, tok: Token) -> tuple[int, int]:
        """Token span ``[start, end)`` of the name headed by ``tok`` (see the module docstring)."""
        left, right = tok.i, tok.i + 1
        proper = tok.pos_ == "PROPN" or tok.i in self.ent_of
        for child in reversed(list(tok.lefts)):
            if child.tag_ == "HYPH" and child.i == left - 1:
                left -= 1  # "start-up": the hyphen joins the word before it
                continue
            if child.dep_ not in _LEFT_MODS or child.right_edge.i + 1 != left:
                break
            if proper and child.pos_ == "NOUN" and child.text.islower() and child.i not in self.ent_of:
                break  # "the violinist Ines Varga": the title is not part of the name
            if any(t.pos_ in ("VERB", "AUX") or t.dep_ in ("punct", "cc") and t.text not in "-–"
                   for t in child.subtree):
                break  # a modifier never spans a clause
            left = child.left_edge.i
        for child in tok.rights:
            if child.i != right:
                break
            if child.dep_ in _RIGHT_MODS:
                right = child.right_edge.i + 1
            elif (child.dep_ == "prep" and child.lower_ == "of" and any(g.dep_ == "pobj" and g.pos_ == "PROPN"
                                                                      for g in child.children)
                  and (tok.pos_ == "PROPN" and tok.text[:1].isupper() or tok.lemma_.lower() in _NAMED_BY_OF
                       and any(c.lower_ == "the" for c in tok.lefts))):
                right = child.right_edge.i + 1  # "University of Tromsø", "the abbey of San Fedele"
            elif (child.dep_ == "punct" and child.text == "," and tok.ent_type_ in LOCATIONS
                  and any(a.dep_ == "appos" and a.ent_type_ in LOCATIONS and a.left_edge.i == child.i + 1
                          and not any(g.dep_ in ("appos", "prep", "relcl", "acl", "punct") for g in a.children)
                          for a in tok.rights)):
                app = next(a for a in tok.rights if a.dep_ == "appos")
                right = app.right_edge.i + 1  # "Kvarnvik, Vermont": a place qualified by its region
                break
            else:
                break
        lo, hi = tok.left_edge.i, tok.right_edge.i + 1
        for i in range(left, right):
            ent = self.ent_of.get(i)
            if ent is not None and ent.start >= lo and ent.end <= hi:
                if ent.label_ in NUMERIC_LABELS and tok.i not in range(ent.start, ent.end):
                    continue
                left, right = min(left, ent.start), max(right, ent.end)
        while left < right - 1 and (self.doc[left].dep_ in ("det", "poss", "case", "punct", "cc", "predet")
                                    or self.doc[left].tag_ in ("DT", "PRP$", "WP$", "POS")):
            if self.doc[left].dep_ == "poss" and left != tok.i:
                left = self.doc[left].right_edge.i + 1  # drop the whole possessor phrase
                continue
            left += 1
        while right - 1 > left and (self.doc[right - 1].is_punct or self.doc[right - 1].tag_ == "POS"):
            right -= 1
        text = self.doc[left:right].text
        if text.count("(") > text.count(")") and right < len(self.doc) and self.doc[right].text == ")":
            right += 1  # "Order of Merit (Varnholm)": a closing bracket the name opened
        return left, right

