"""Typed objects passed between the stages of kgllm.

None of these names a backend: extractors produce a :class:`GraphDelta`, every
:class:`~kgllm.stores.base.GraphStore` accepts one, retrieval returns a
:class:`Subgraph` and the reasoner returns an :class:`Answer`.

Examples
--------
>>> from kgllm.types import Fact, Provenance, entity_id
>>> entity_id("  Marie   CURIE ")
'marie curie'
>>> p = Provenance(doc_id="d1", chunk=0, start=0, end=31, extractor="rules",
...                sentence="Marie Curie was born in Warsaw.")
>>> f = Fact("marie curie", "born_in", "warsaw", provenance=(p,))
>>> f.id == Fact("marie curie", "born_in", "warsaw").id
True
>>> f.as_line()
'marie curie --born_in--> warsaw'
>>> f.as_line({"marie curie": "Marie Curie", "warsaw": "Warsaw"})
'Marie Curie --born_in--> Warsaw'
>>> f.named({"marie curie": "Marie Curie", "warsaw": "Warsaw"}).as_line()
'Marie Curie --born_in--> Warsaw'
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

__all__ = [
    "Document",
    "Chunk",
    "Entity",
    "Provenance",
    "Fact",
    "Merge",
    "GraphDelta",
    "Path",
    "Subgraph",
    "Answer",
    "NOT_SUPPORTED",
    "NOT_STATED",
    "entity_id",
    "fact_id",
    "unique_sources",
]

#: Opening words of every answer the graph does not support.
NOT_SUPPORTED = "The graph does not support an answer"
#: Opening words of an answer the documents do not state (the graph holds their text).
NOT_STATED = "The text does not say"

_SPACE = re.compile(r"\s+")


def entity_id(name: str) -> str:
    """Return the canonical id of an entity name.

    Case-folded, Unicode-normalised (NFKC), underscores read as spaces,
    whitespace collapsed and surrounding quotes/punctuation stripped. Two names
    with the same id denote the same node.

    >>> entity_id("Haile_Selassie_I_of_Ethiopia")
    'haile selassie i of ethiopia'
    >>> entity_id('"Warsaw".')
    'warsaw'
    """
    text = unicodedata.normalize("NFKC", name).replace("_", " ")
    text = _SPACE.sub(" ", text).strip().strip("\"'`.,;:!?()[]{}").strip()
    return text.casefold()


def fact_id(subject: str, relation: str, object: str) -> str:
    """Deterministic id of the triple ``(subject, relation, object)``.

    >>> fact_id("a", "r", "b") == fact_id("a", "r", "b")
    True
    >>> fact_id("a", "r", "b") != fact_id("b", "r", "a")
    True
    """
    digest = hashlib.sha1(f"{subject}\x1f{relation}\x1f{object}".encode()).hexdigest()
    return "f" + digest[:15]


@dataclass(frozen=True, slots=True)
class Document:
    """A text to ingest, with a stable id (used for provenance and retraction)."""

    id: str
    text: str
    source: str = ""  # file path or URI the text came from, informational
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A span of a document (a sentence by default) with character offsets."""

    doc_id: str
    index: int
    text: str
    start: int  # offset of text[0] in the document
    end: int  # offset one past the last character


@dataclass(frozen=True, slots=True)
class Entity:
    """A node of the graph.

    ``id`` is the canonical key (see :func:`entity_id`), ``name`` the preferred
    surface form, ``type`` a coarse label (``PERSON``, ``GPE``, ... or ``""``),
    ``aliases`` other surface forms that denote it.
    """

    id: str
    name: str
    type: str = ""
    aliases: tuple[str, ...] = ()

    @classmethod
    def from_name(cls, name: str, type: str = "", aliases: Iterable[str] = ()) -> "Entity":
        """Build an entity whose id is derived from ``name``.

        >>> Entity.from_name("Marie Curie", "PERSON", ["Curie"])
        Entity(id='marie curie', name='Marie Curie', type='PERSON', aliases=('Curie',))
        """
        return cls(entity_id(name), name.strip(), type, tuple(dict.fromkeys(a for a in aliases if a)))


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a fact was read: document, chunk (sentence) index, character span, extractor."""

    doc_id: str
    chunk: int = -1
    start: int = -1
    end: int = -1
    extractor: str = ""
    sentence: str = ""  # text of the chunk, so answers can quote their sources

    def key(self) -> tuple[str, int, int, int, str]:
        """Identity of a source: the same fact from the same key is stored once."""
        return (self.doc_id, self.chunk, self.start, self.end, self.extractor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "chunk": self.chunk,
            "start": self.start,
            "end": self.end,
            "extractor": self.extractor,
            "sentence": self.sentence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Provenance":
        return cls(**{k: data[k] for k in ("doc_id", "chunk", "start", "end", "extractor", "sentence") if k in data})


@dataclass(frozen=True, slots=True)
class Fact:
    """A directed, labelled edge ``subject --relation--> object`` between entity ids.

    ``names`` optionally carries the subject's and object's names as written (``("Marie Curie", "Warsaw")``), for
    display only: it is not part of the fact's identity (equality, hash, :attr:`id`). Facts an
    :class:`Answer` cites carry them, so :meth:`as_line` prints what :meth:`Answer.cite` prints.
    """

    subject: str
    relation: str
    object: str
    confidence: float = 1.0
    provenance: tuple[Provenance, ...] = ()
    names: tuple[str, str] | None = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> str:
        """Deterministic id of the triple (provenance and confidence excluded)."""
        return fact_id(self.subject, self.relation, self.object)

    def as_line(self, names: Mapping[str, str] | None = None) -> str:
        """Human-readable one-line form: ``subject --relation--> object``.

        Each end is shown by the name ``names`` maps its id to, else the name the fact carries
        (:meth:`named`), else its id.

        >>> Fact("ada lindqvist", "born_in", "tromsø", names=("Ada Lindqvist", "Tromsø")).as_line()
        'Ada Lindqvist --born_in--> Tromsø'
        >>> Fact("ada lindqvist", "born_in", "tromsø").as_line()
        'ada lindqvist --born_in--> tromsø'
        """
        own = self.names or (self.subject, self.object)
        names = names or {}
        return f"{names.get(self.subject, own[0])} --{self.relation}--> {names.get(self.object, own[1])}"

    def named(self, names: Mapping[str, str]) -> "Fact":
        """This fact carrying its ends' names as written (looked up in ``names``, an id -> name map; an id
        missing there keeps the name the fact had, else the id)."""
        own = self.names or (self.subject, self.object)
        pair = (names.get(self.subject) or own[0], names.get(self.object) or own[1])
        return self if pair == self.names else replace(self, names=pair)

    def with_provenance(self, provenance: Iterable[Provenance]) -> "Fact":
        return replace(self, provenance=tuple(provenance))


@dataclass(frozen=True, slots=True)
class Merge:
    """A recorded entity-resolution decision: ``alias`` was folded into ``canonical``.

    Merges are stored so that they can be listed and undone.
    """

    alias: str  # entity id that disappeared
    canonical: str  # entity id it was merged into
    method: str  # "alias", "fuzzy", "embedding", ...
    score: float = 1.0
    doc_id: str = ""


@dataclass(slots=True)
class GraphDelta:
    """What one extraction run adds to a store: entities, facts and merges."""

    entities: list[Entity] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)

    def extend(self, other: "GraphDelta") -> None:
        self.entities.extend(other.entities)
        self.facts.extend(other.facts)
        self.merges.extend(other.merges)

    def __len__(self) -> int:
        return len(self.facts)


@dataclass(frozen=True, slots=True)
class Path:
    """A chain of facts from a seed entity, with the retrieval score that chose it.

    ``entities`` has one more element than ``facts``; facts may be walked against
    their direction (``forward[i]`` is False then).
    """

    entities: tuple[str, ...]
    facts: tuple[Fact, ...]
    forward: tuple[bool, ...]
    score: float = 0.0

    @property
    def end(self) -> str:
        return self.entities[-1]

    @property
    def relations(self) -> tuple[str, ...]:
        return tuple(f.relation for f in self.facts)


@dataclass(slots=True)
class Subgraph:
    """Facts retrieved for a question, the entities they touch, and ranked paths."""

    seeds: list[str] = field(default_factory=list)
    entities: dict[str, Entity] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)

    def fact_ids(self) -> set[str]:
        return {f.id for f in self.facts}

    def name(self, eid: str) -> str:
        """The name of entity ``eid`` as written (its id when the subgraph does not know it).

        >>> Subgraph(entities={"oslo": Entity("oslo", "Oslo")}).name("oslo")
        'Oslo'
        """
        entity = self.entities.get(eid)
        return entity.name if entity is not None and entity.name else eid

    def names(self) -> dict[str, str]:
        """Entity id -> name as written, for every entity of the subgraph."""
        return {eid: self.name(eid) for eid in self.entities}

    def add_fact(self, fact: Fact) -> None:
        if fact.id not in self.fact_ids():
            self.facts.append(fact)

    def __len__(self) -> int:
        return len(self.facts)


def unique_sources(facts: Iterable[Fact]) -> list[Provenance]:
    """The provenance of ``facts``, each source once, in order of first appearance.

    >>> p = Provenance("d", 0, 0, 4, "rules", "A r B.")
    >>> unique_sources([Fact("a", "r", "b", provenance=(p,)), Fact("b", "s", "c", provenance=(p,))]) == [p]
    True
    """
    seen: dict[tuple, Provenance] = {}
    for f in facts:
        for p in f.provenance:
            seen.setdefault(p.key(), p)
    return list(seen.values())


@dataclass(slots=True)
class Answer:
    """The reasoner's answer, with the facts and source sentences it rests on.

    ``supported`` is False when the graph (or the text it was built from) does not
    state an answer: ``text`` then says so instead of guessing, ``reasons`` says why,
    and ``facts`` holds the closest facts found, if any. ``generated`` is the language model's own
    completion for the question (None when no model was asked): ``text`` is that
    completion when it names the answer the graph supports, else the graph's
    answer (the entity's name as written).
    """

    question: str
    text: str
    facts: list[Fact] = field(default_factory=list)
    sources: list[Provenance] = field(default_factory=list)
    supported: bool = True
    entities: list[str] = field(default_factory=list)  # candidate answer entity ids: the chosen one, then by rank
    confidence: float = 0.0
    subgraph: Subgraph | None = field(default=None, repr=False)
    generated: str | None = None
    reasons: tuple[str, ...] = ()  # why the answer is not supported (empty when it is)
    #: In a conversation (:class:`~kgllm.conversation.Conversation`): the standalone question that was answered.
    resolved_question: str | None = None
    #: In a conversation: the references of the question as typed that could not be resolved (asked as written).
    unresolved: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.subgraph is not None and self.facts:  # cited facts show names as written, as cite() does
            names = self.subgraph.names()
            self.facts = [f.named(names) for f in self.facts]

    @classmethod
    def unsupported(cls, question: str, why: str, subgraph: Subgraph | None = None) -> "Answer":
        """An answer saying the graph does not support one, and why.

        >>> Answer.unsupported("Who?", "nothing is known").text
        'The graph does not support an answer: nothing is known.'
        >>> Answer.unsupported("Who?", "nothing is known").reasons
        ('nothing is known',)
        """
        return cls(question, f"{NOT_SUPPORTED}: {why}.", [], [], False, [], 0.0, subgraph, reasons=(why,))

    def cite(self) -> str:
        """Render the answer with numbered facts (entity names as written) and their source sentences."""
        names = self.subgraph.names() if self.subgraph is not None else {}
        lines = [self.text]
        if self.facts and not self.supported:
            lines.append("  closest facts found (they do not answer the question):")
        for i, fact in enumerate(self.facts, 1):
            lines.append(f"  [{i}] {fact.named(names).as_line()}")
            for p in fact.provenance:
                where = f"{p.doc_id}" + (f":{p.start}-{p.end}" if p.start >= 0 else "")
                quote = f' "{p.sentence}"' if p.sentence else ""
                lines.append(f"      source {where}{quote}")
        return "\n".join(lines)
