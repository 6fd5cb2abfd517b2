"""Family relations composed along a path: "my mother's brother" is my uncle.

Every kinship word is a chain of four basic steps, read from a person outwards: ``P`` parent,
``C`` child, ``S`` sibling, ``W`` spouse ("uncle" = ``P S``, a parent's sibling; "son-in-law" =
``C W``, a child's spouse) plus the gender of the person it names. A path of facts becomes one
chain (a fact walked backwards contributes its inverse steps in reverse order), the chain is
simplified with the usual family identities (a parent's child is a sibling, a sibling's parent
is a parent, a spouse's child is a child, ...) and the result is named again, gendered by what
the graph says about the target. These identities assume the conventional family the questions
are posed about (e.g. a parent's child other than oneself is a sibling); half-relations,
step-relations and cousins' genders are not told apart.

Examples
--------
>>> compose([("son", True), ("daughter", True)], "female")
'granddaughter'
>>> compose([("brother", True), ("son", False), ("husband", False), ("brother", True)], "male")
'uncle'
>>> compose([("father", True), ("wife", True)], "female")
'mother'
>>> compose([("fish_with", True)], "male") is None
True
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Iterable, Mapping

from kgllm.types import Fact

if TYPE_CHECKING:
    from kgllm.reason.rules import Inference, RuleSet

__all__ = ["KIN", "KIN_TERMS", "compose", "gender_of", "is_kin", "kin_facts", "genders", "kinship_answer"]

# word -> (steps from the person outwards, gender of the relative it names)
KIN: dict[str, tuple[str, str | None]] = {
    "father": ("P", "male"), "mother": ("P", "female"), "parent": ("P", None),
    "dad": ("P", "male"), "mom": ("P", "female"),
    "son": ("C", "male"), "daughter": ("C", "female"), "child": ("C", None),
    "brother": ("S", "male"), "sister": ("S", "female"), "sibling": ("S", None),
    "husband": ("W", "male"), "wife": ("W", "female"), "spouse": ("W", None),
    "grandfather": ("PP", "male"), "grandmother": ("PP", "female"), "grandparent": ("PP", None),
    "grandson": ("CC", "male"), "granddaughter": ("CC", "female"), "grandchild": ("CC", None),
    "great grandfather": ("PPP", "male"), "great grandmother": ("PPP", "female"),
    "great grandson": ("CCC", "male"), "great granddaughter": ("CCC", "female"),
    "uncle": ("PS", "male"), "aunt": ("PS", "female"),
    "nephew": ("SC", "male"), "niece": ("SC", "female"),
    "cousin": ("PSC", None),
    "father in law": ("WP", "male"), "mother in law": ("WP", "female"),
    "son in law": ("CW", "male"), "daughter in law": ("CW", "female"),
    "brother in law": ("SW", "male"), "sister in law": ("SW", "female"),
}

_NAMES: dict[str, tuple[str, str]] = {}   # steps -> (male word, female word); the first word listed wins
for _word, (_steps, _gender) in KIN.items():
    if _gender is not None:
        _male, _female = _NAMES.get(_steps, ("", ""))
        _name = _word.replace(" in law", "-in-law")
        _NAMES[_steps] = (_male or _name, _female) if _gender == "male" else (_male, _female or _name)
_NEUTRAL = {"PSC": "cousin"}   # named the same for either gender

_INVERSE = {"P": "C", "C": "P", "S": "S", "W": "W"}

# pairs of adjacent steps that collapse (the conventional family identities)
_REDUCE = {
    "PC": "S",   # a parent's child is a sibling
    "CP": "W",   # a child's other parent is one's spouse
    "SP": "P",   # a sibling's parent is a parent
    "SS": "S",   # a sibling's sibling is a sibling
    "CS": "C",   # a child's sibling is a child
    "WC": "C",   # a spouse's child is a child
    "PW": "P",   # a parent's spouse is a parent
    "WW": "",    # a spouse's spouse is oneself
}


def _kin(relation: str) -> tuple[str, bool] | None:
    """``(kinship word, reversed)``: ``sister_of`` (x is the sister of y) is ``sister`` read backwards."""
    word = " ".join(relation.lower().replace("_", " ").replace("-", " ").split())
    if word in KIN:
        return word, False
    if word.endswith(" of") and word[:-3] in KIN:
        return word[:-3], True
    return None


def is_kin(relation: str) -> bool:
    """Whether ``relation`` is a kinship word this module composes (``son``, ``sister_of``, ...).

    >>> is_kin("Mother-in-law"), is_kin("sister_of"), is_kin("works_with")
    (True, True, False)
    """
    return _kin(relation) is not None


def gender_of(person: str, facts: Iterable[Fact]) -> str | None:
    """The gender that the kinship words naming ``person`` agree on, or None.

    ``(x, son, person)`` and ``(person, son_of, x)`` both name ``person`` a son: male.

    >>> gender_of("ann", [Fact("bob", "daughter", "ann"), Fact("ann", "sister_of", "cy")])
    'female'
    """
    genders = set()
    for f in facts:
        kin = _kin(f.relation)
        if kin is not None and (f.subject if kin[1] else f.object) == person:
            genders.add(KIN[kin[0]][1])
    genders.discard(None)
    return genders.pop() if len(genders) == 1 else None


def _reduce(steps: str) -> str:
    changed = True
    while changed:
        changed = False
        for i in range(len(steps) - 1):
            pair = steps[i:i + 2]
            if pair in _REDUCE:
                steps = steps[:i] + _REDUCE[pair] + steps[i + 2:]
                changed = True
                break
    return steps


def compose(path: Iterable[tuple[str, bool]], target_gender: str | None) -> str | None:
    """The kinship word for the end of ``path`` seen from its start, or None.

    ``path``: ``(relation, forward)`` per fact, from the source person to the target; a fact
    ``(x, r, y)`` reads "y is the r of x" and is *forward* when the path goes from x to y.
    None when a relation is not a kinship word, the chain names no known relation, or the
    target's gender is needed and unknown.
    """
    steps = ""
    for relation, forward in path:
        kin = _kin(relation)
        if kin is None:
            return None
        word, backwards = kin
        forward = forward != backwards
        chain = KIN[word][0]
        steps += chain if forward else "".join(_INVERSE[s] for s in reversed(chain))
    steps = _reduce(steps)
    if steps in _NEUTRAL:
        return _NEUTRAL[steps]
    if steps not in _NAMES or target_gender not in ("male", "female"):
        return None
    male, female = _NAMES[steps]
    return male if target_gender == "male" else female


#: The kinship terms of the schema, as written in answers and in ``graphs/rules/kinship.rules``.
KIN_TERMS: tuple[str, ...] = tuple(dict.fromkeys(
    w.replace(" in law", "-in-law").replace("great ", "great-") for w, (_, g) in KIN.items()
    if g is not None and w not in ("dad", "mom")))
_ALIAS = {"dad": "father", "mom": "mother", "mum": "mother", "daddy": "father", "mommy": "mother",
          "grandpa": "grandfather", "grandma": "grandmother", "granny": "grandmother", "papa": "father",
          "mama": "mother", "hubby": "husband", "grand daughter": "granddaughter", "grand son": "grandson"}


def kin_term(relation: str) -> tuple[str, bool] | None:
    """``(schema term, reversed)`` of a relation name, or None: ``sister_of`` is ``sister`` read backwards.

    >>> kin_term("son_in_law"), kin_term("Mom"), kin_term("aunt_of"), kin_term("visit")
    (('son-in-law', False), ('mother', False), ('aunt', True), None)
    """
    word = " ".join(relation.lower().replace("_", " ").replace("-", " ").split())
    backwards = word.endswith(" of")
    word = word[:-3] if backwards else word
    word = _ALIAS.get(word, word)
    if word not in KIN or word in ("dad", "mom"):
        return None
    return word.replace(" in law", "-in-law").replace("great ", "great-"), backwards


def kin_facts(facts: Iterable[Fact]) -> list[Fact]:
    """The kinship facts of ``facts``, named with the schema's terms and read "object is the term of subject".

    >>> [f.as_line() for f in kin_facts([Fact("ann", "sister_of", "bo"), Fact("bo", "dad", "cy"),
    ...                                  Fact("bo", "visit", "cy")])]
    ['bo --sister--> ann', 'bo --father--> cy']
    """
    out: dict[tuple[str, str, str], Fact] = {}
    for f in facts:
        kin = kin_term(f.relation)
        if kin is None or f.subject == f.object:
            continue
        s, o = (f.object, f.subject) if kin[1] else (f.subject, f.object)
        key = (s, kin[0], o)
        if key not in out or out[key].confidence < f.confidence:
            out[key] = Fact(s, kin[0], o, f.confidence, f.provenance)
    return list(out.values())


def genders(facts: Iterable[Fact], hints: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each person's gender: what the kinship words naming them say (a majority), else ``hints``.

    ``hints`` (e.g. from the pronouns a text uses for a person) only fill in people the kinship
    words leave open or split evenly.

    >>> genders([Fact("a", "son", "b"), Fact("c", "brother", "b"), Fact("b", "mother", "d")], {"a": "female"})
    {'b': 'male', 'd': 'female', 'a': 'female'}
    """
    votes: dict[str, dict[str, int]] = {}
    for f in kin_facts(facts):
        g = KIN[f.relation.replace("-in-law", " in law").replace("great-", "great ")][1]
        if g is not None:
            v = votes.setdefault(f.object, {})
            v[g] = v.get(g, 0) + 1
    out: dict[str, str] = {}
    for person, v in votes.items():
        ranked = sorted(v.items(), key=lambda kv: -kv[1])
        if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
            out[person] = ranked[0][0]
    for person, g in (hints or {}).items():
        if person not in out and g in ("male", "female"):
            out[person] = g
    return out


@lru_cache(maxsize=4)
def _rules(path: str) -> "RuleSet":
    from kgllm.reason.rules import RuleSet

    return RuleSet.load(path)


def kinship_answer(facts: Iterable[Fact], source: str, target: str, hints: Mapping[str, str] | None = None,
                   rules: "RuleSet | str" = "kinship") -> tuple[Fact, "Inference"] | None:
    """The kinship fact ``(source, term, target)`` -- "target is the term of source" -- the rules derive.

    ``facts``: the graph's facts (kinship ones are used); ``hints``: genders known otherwise;
    ``rules``: a :class:`~kgllm.reason.rules.RuleSet` or a rule file (default the built-in
    ``graphs/rules/kinship.rules``). Among several terms the one with the fewest supporting facts
    wins. None when the rules derive no kinship term between the two.

    >>> fact, why = kinship_answer([Fact("rik", "daughter", "mona"), Fact("ilse", "husband", "rik")],
    ...                            "ilse", "mona")
    >>> fact.as_line(), [f.as_line() for f in why.support(fact)]
    ('ilse --daughter--> mona', ['ilse --husband--> rik', 'rik --daughter--> mona', 'mona --gender--> female'])
    """
    ruleset = _rules(rules) if isinstance(rules, str) else rules
    kin = kin_facts(facts)
    sexes = genders(kin, hints)
    given = kin + [Fact(p, "gender", g) for p, g in sorted(sexes.items())]
    inference = ruleset.infer(given)
    terms = set(KIN_TERMS)
    found = [f for f in inference.facts if f.subject == source and f.object == target and f.relation in terms]
    if not found:
        return None
    order = {id(f): i for i, f in enumerate(inference.facts)}
    best = min(found, key=lambda f: (len(inference.support(f)), order[id(f)]))
    return best, inference
