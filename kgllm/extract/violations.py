"""Schema violations: typed facts whose subject or object type clashes with the relation's domain or range.

:class:`~kgllm.extract.typing.RelationTyper` scores each schema relation with a penalty per known type clash
(``on_violation="penalize"``, the default). With ``"report"`` or ``"drop"`` it also checks the relation it chose
(direction swap applied) and records a :class:`Violation` for each clash; ``"drop"`` removes the fact as well.

A type is compared through NER labels (:func:`~kgllm.extract.typing.type_labels`): the relation's domain/range
admits a set of labels; the entity's type is either an NER label (``PERSON``, ``DATE``) or a type word
(``City`` -> a place). An unknown type on either side (an unknown schema class, an empty or unfamiliar entity
type) is never a violation.

Examples
--------
>>> from kgllm.extract.typing import type_labels
>>> from kgllm.types import Fact
>>> types = {"ada": "PERSON", "1815": "DATE", "x": "Spacecraft"}
>>> check_fact(Fact("ada", "birthPlace", "1815", 1.0), types, "Person", "Place", type_labels)
['range Place vs DATE']
>>> check_fact(Fact("ada", "birthPlace", "x", 1.0), types, "Person", "Place", type_labels)
[]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Mapping

from kgllm.errors import ConfigError
from kgllm.types import Fact

#: A schema type name -> the NER labels it admits, or None when unknown (:func:`kgllm.extract.typing.type_labels`).
LabelsOf = Callable[[str | None], "frozenset[str] | None"]

__all__ = ["Violation", "OnViolation", "ON_VIOLATION", "check_fact", "entity_labels", "check_on_violation"]

OnViolation = Literal["penalize", "report", "drop"]
#: The settings ``on_violation`` accepts.
ON_VIOLATION: tuple[str, ...] = ("penalize", "report", "drop")

#: spaCy's (OntoNotes) entity labels: an entity type among them is a known type.
NER_LABELS = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE DATE TIME PERCENT "
                       "MONEY QUANTITY ORDINAL CARDINAL".split())


@dataclass(frozen=True, slots=True)
class Violation:
    """A fact whose subject or object type clashes with its relation's domain or range.

    >>> from kgllm.types import Provenance
    >>> v = Violation(Fact("ada", "birthPlace", "1815", 1.0, (Provenance("d", 0, sentence="Ada: 1815."),)),
    ...               "range Place vs DATE", dropped=True)
    >>> str(v), v.sentence
    ('ada --birthPlace--> 1815: range Place vs DATE (dropped)', 'Ada: 1815.')
    """

    fact: Fact
    reason: str
    dropped: bool = False

    @property
    def sentence(self) -> str:
        """The sentence the fact was read from (its first provenance), or ``""``."""
        return next((p.sentence for p in self.fact.provenance if p.sentence), "")

    def __str__(self) -> str:
        return f"{self.fact.as_line()}: {self.reason}" + (" (dropped)" if self.dropped else "")


def check_on_violation(value: str) -> str:
    """``value`` when it is a valid ``on_violation`` setting, else :class:`~kgllm.errors.ConfigError`.

    >>> check_on_violation("drop")
    'drop'
    >>> check_on_violation("ignore")
    Traceback (most recent call last):
    kgllm.errors.ConfigError: on_violation must be one of penalize, report, drop; got 'ignore'
    """
    if value not in ON_VIOLATION:
        raise ConfigError(f"on_violation must be one of {', '.join(ON_VIOLATION)}; got {value!r}")
    return value


def entity_labels(entity_type: str, labels_of: LabelsOf) -> frozenset[str] | None:
    """The NER labels an entity's type stands for, or None when the type is unknown.

    >>> from kgllm.extract.typing import type_labels
    >>> [entity_labels(t, type_labels) for t in ("GPE", "", "Spacecraft")], sorted(entity_labels("City", type_labels))
    ([frozenset({'GPE'}), None, None], ['FAC', 'GPE', 'LOC'])
    """
    if not entity_type:
        return None
    if entity_type in NER_LABELS:
        return frozenset((entity_type,))
    return labels_of(entity_type)


def check_fact(fact: Fact, types: Mapping[str, str], domain: str | None, range_: str | None,
               labels_of: LabelsOf) -> list[str]:
    """The reasons ``fact`` violates the ``domain``/``range_`` of the relation it carries; empty when none.

    ``types`` maps entity ids to their types; ``labels_of`` reads a schema type's NER labels.
    """
    reasons: list[str] = []
    for side, wanted, entity in (("domain", domain, fact.subject), ("range", range_, fact.object)):
        allowed = labels_of(wanted)
        have = entity_labels(types.get(entity, ""), labels_of)
        if allowed is not None and have is not None and not (have & allowed):
            reasons.append(f"{side} {wanted} vs {types[entity]}")
    return reasons
