"""Words and records of the kinship reader (:mod:`kgllm.extract.kinship`).

>>> KIN_NOUNS["niece"], KIN_NOUNS["children"]
(('niece', 'female'), ('child', None))
>>> r = KinshipReading()
>>> r.learn("Bo", "male", 0, strong=False); r.learn("Bo", "female", 1, strong=True); r.learn("Bo", "male", 2, False)
>>> r.gender["Bo"], r.fits("Bo", "male"), r.evidence["Bo"]
('female', False, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["KIN_NOUNS", "KinshipReading", "Name", "NOT_NAMES", "NUMERIC", "FUNCTION", "BE", "HAVE", "NAMED", "COUNT",
           "POSS_PRON"]

#: Kinship nouns (singular) -> (schema term, gender of the person it names; None: either).
KIN_NOUNS: dict[str, tuple[str, str | None]] = {
    "father": ("father", "male"), "mother": ("mother", "female"), "dad": ("father", "male"),
    "mom": ("mother", "female"), "mum": ("mother", "female"), "son": ("son", "male"),
    "daughter": ("daughter", "female"), "brother": ("brother", "male"), "sister": ("sister", "female"),
    "husband": ("husband", "male"), "wife": ("wife", "female"), "grandfather": ("grandfather", "male"),
    "grandmother": ("grandmother", "female"), "grandpa": ("grandfather", "male"),
    "grandma": ("grandmother", "female"), "grandson": ("grandson", "male"),
    "granddaughter": ("granddaughter", "female"), "grandaughter": ("granddaughter", "female"), "uncle": ("uncle", "male"), "aunt": ("aunt", "female"),
    "nephew": ("nephew", "male"), "niece": ("niece", "female"),
    "child": ("child", None), "children": ("child", None), "kid": ("child", None), "parent": ("parent", None),
    "sibling": ("sibling", None), "spouse": ("spouse", None), "grandchild": ("grandchild", None),
    "grandchildren": ("grandchild", None), "grandparent": ("grandparent", None), "cousin": ("cousin", None),
}
NOT_NAMES = {"i", "he", "she", "they", "we", "you", "it", "his", "her", "their", "the", "a", "an", "mr", "mrs",
              "ms", "dr", "however", "today", "yesterday", "tomorrow", "when", "while", "after", "before", "then",
              "since", "as", "so", "but", "and", "if", "although", "because", "later", "later that", "one", "god"}
NUMERIC = {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL", "EVENT"}
FUNCTION = {"DET", "PRON", "SCONJ", "ADP", "CCONJ", "PART", "NUM", "PUNCT", "SYM"}
BE = {"is", "was", "are", "were", "'s"}
HAVE = {"has", "had", "have"}
NAMED = {"named", "called"}
COUNT = {"a", "few", "several", "two", "three", "four", "five", "many", "some", "the"}
POSS_PRON = {"his": "male", "her": "female"}


@dataclass(slots=True)
class KinshipReading:
    """Facts ``(chunk index, owner name, term, relative name)`` and each name's gender."""

    facts: list[tuple[int, str, str, str]] = field(default_factory=list)
    gender: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, int] = field(default_factory=dict)   # name -> chunk index of its gender
    strong: set[str] = field(default_factory=set)

    def learn(self, name: str, gender: str | None, chunk: int, strong: bool) -> None:
        if gender is None or (name in self.strong and not strong):
            return
        if strong or name not in self.gender:
            self.gender[name] = gender
            self.evidence.setdefault(name, chunk)
        if strong:
            self.strong.add(name)

    def fits(self, name: str, gender: str | None) -> bool:
        return gender is None or self.gender.get(name, gender) == gender


@dataclass(slots=True)
class Name:
    text: str
    start: int
    end: int          # token span [start, end)
    chunk: int
    value: bool = False   # named as someone's relative in its sentence
