"""What a graph may contain: relations (with optional description, domain and range) and entity types.

A :class:`Schema` is plain data. :mod:`kgllm.extract.typing` maps the relation
phrases the extractor reads ("was born in") onto the schema's relations
(``birthPlace``); :class:`~kgllm.graph.KnowledgeGraph` and ``kgllm build
--schema`` apply it before writing.

Sources
    * a JSON relation list: ``["birthPlace", "employer"]``, or objects
      ``[{"name": "birthPlace", "description": "...", "domain": "Person",
      "range": "Place"}]`` (:meth:`Schema.from_json`);
    * a JSON object ``{"relations": [...], "entity_types": [...]}``; an item of
      the extraction format (``{"text": ..., "triples": ..., "relations": [names]}``)
      has this shape too (:meth:`Schema.from_record`);
    * an extraction JSONL file: the union of its items' ``relations``.

:meth:`Schema.from_file` reads any of them, deciding by content, and RDFS/OWL
ontologies (Turtle or RDF/XML): classes become entity types, properties relations
with their domain, range and a description from their label and comment
(:mod:`kgllm.rdf.ontology`, loaded only for such files).

Examples
--------
>>> s = Schema.from_json(["birthPlace", {"name": "employer", "domain": "Person", "range": "Organisation"}])
>>> s.names
('birthPlace', 'employer')
>>> s.relation("employer").range
'Organisation'
>>> s.relation("birthPlace").words
'birth place'
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from kgllm.errors import InputError, NotFoundError

__all__ = ["RelationSpec", "Schema", "relation_words"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEP = re.compile(r"[\s_\-]+")
_FIELDS = ("name", "description", "domain", "range")


def relation_words(name: str) -> str:
    """A relation name as lower-case words: camelCase and snake_case split.

    >>> relation_words("birthPlace"), relation_words("capital_of"), relation_words("ICAOLocationIdentifier")
    ('birth place', 'capital of', 'icao location identifier')
    """
    return _SEP.sub(" ", _CAMEL.sub(" ", str(name))).strip().casefold()


@dataclass(frozen=True, slots=True)
class RelationSpec:
    """One relation a graph may hold.

    Attributes
    ----------
    name : str
        The name written into the graph, e.g. ``"birthPlace"``.
    description : str
        Optional words saying what it means (used when matching phrases to it).
    domain, range : str or None
        Optional type of the subject and of the object, e.g. ``"Person"``, ``"Place"``, ``"date"``.

    Examples
    --------
    >>> RelationSpec("birthPlace", "where a person was born").text
    'birth place: where a person was born'
    """

    name: str
    description: str = ""
    domain: str | None = None
    range: str | None = None

    @property
    def words(self) -> str:
        """The name as words (``birthPlace`` -> ``"birth place"``)."""
        return relation_words(self.name)

    @property
    def text(self) -> str:
        """What the relation is matched by: its words, then its description when it has one."""
        return f"{self.words}: {self.description}" if self.description else self.words


@dataclass(frozen=True, slots=True)
class Schema:
    """Relations and entity types a graph may contain.

    Attributes
    ----------
    relations : tuple of RelationSpec
        Distinct names, in the order given.
    entity_types : tuple of str
        Entity type names (informational for now; domains and ranges name types too).

    Examples
    --------
    >>> Schema.from_names(["employer", "employer", "birthPlace"]).names
    ('employer', 'birthPlace')
    >>> "employer" in Schema.from_names(["employer"]), len(Schema.from_names(["a", "b"]))
    (True, 2)
    """

    relations: tuple[RelationSpec, ...] = ()
    entity_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, RelationSpec] = {}
        for spec in self.relations:
            if not isinstance(spec, RelationSpec):
                raise InputError(f"schema relations must be RelationSpec objects, got {type(spec).__name__}")
            seen.setdefault(spec.name, spec)
        object.__setattr__(self, "relations", tuple(seen.values()))
        object.__setattr__(self, "entity_types", tuple(dict.fromkeys(self.entity_types)))

    @property
    def names(self) -> tuple[str, ...]:
        """The relation names, in order."""
        return tuple(r.name for r in self.relations)

    def relation(self, name: str) -> RelationSpec:
        """The relation called ``name``; :class:`~kgllm.errors.NotFoundError` if there is none."""
        for spec in self.relations:
            if spec.name == name:
                return spec
        raise NotFoundError(f"schema has no relation {name!r}")

    def __contains__(self, name: object) -> bool:
        return any(r.name == name for r in self.relations)

    def __len__(self) -> int:
        return len(self.relations)

    # ------------------------------------------------------------- loaders
    @classmethod
    def from_names(cls, names: Iterable[str], where: str = "relations") -> "Schema":
        """A schema of bare relation names (the extraction format's ``relations`` field)."""
        return cls.from_json(list(names), where)

    @classmethod
    def from_json(cls, data: Any, where: str = "schema") -> "Schema":
        """A schema from parsed JSON: a relation list or an object with ``relations`` (and ``entity_types``).

        Raises
        ------
        InputError
            Naming ``where`` and what was expected.

        Examples
        --------
        >>> Schema.from_json({"relations": ["employer"], "entity_types": ["Person"]}).entity_types
        ('Person',)
        >>> Schema.from_json([{"name": ""}], "s.json")
        Traceback (most recent call last):
        ...
        kgllm.errors.InputError: s.json: relation 0: expected a non-empty string 'name', got ''
        """
        if isinstance(data, dict):
            return cls.from_record(data, where)
        if not isinstance(data, list):
            raise InputError(f"{where}: expected a JSON list of relations (names or objects with name, description, "
                             f"domain, range) or an object with 'relations', got {type(data).__name__}")
        return cls(tuple(_relation(item, k, where) for k, item in enumerate(data)))

    @classmethod
    def from_record(cls, record: dict[str, Any], where: str = "schema") -> "Schema":
        """A schema from an object's ``relations`` (and optional ``entity_types``) field.

        >>> Schema.from_record({"text": "...", "triples": [], "relations": ["birthPlace"]}).names
        ('birthPlace',)
        """
        if "relations" not in record:
            raise InputError(f"{where}: expected a 'relations' field (a list of relation names or objects)")
        relations = record["relations"]
        if not isinstance(relations, list):
            raise InputError(f"{where}: 'relations' must be a list, got {type(relations).__name__}")
        types = record.get("entity_types", [])
        if not (isinstance(types, list) and all(isinstance(t, str) and t.strip() for t in types)):
            raise InputError(f"{where}: 'entity_types' must be a list of non-empty strings")
        return cls(cls.from_json(relations, where).relations, tuple(t.strip() for t in types))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "Schema":
        """Read a schema file, deciding its kind by content (see the module docstring).

        Raises
        ------
        NotFoundError
            If the file does not exist.
        InputError
            If it is not a schema, naming the file and what was expected.
        """
        p = Path(path)
        if not p.is_file():
            raise NotFoundError(f"schema file not found: {p}")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{p}: not UTF-8 text; expected a JSON schema file") from exc
        for detect, read in _READERS:
            if detect(text):
                return read(text, str(p))
        raise InputError(f"{p}: expected a JSON relation list, a JSON object with 'relations', "
                         "an extraction JSONL file with 'relations' fields or an RDFS/OWL ontology (Turtle, RDF/XML)")


def _relation(item: Any, k: int, where: str) -> RelationSpec:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        raise InputError(f"{where}: relation {k}: expected a name or an object with 'name', got "
                         f"{type(item).__name__}")
    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        raise InputError(f"{where}: relation {k}: unknown field(s) {', '.join(unknown)}; expected {', '.join(_FIELDS)}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}: relation {k}: expected a non-empty string 'name', got {name!r}")
    for field in _FIELDS[1:]:
        value = item.get(field)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}: relation {k} ({name}): '{field}' must be a string, got {type(value).__name__}")
    return RelationSpec(name.strip(), (item.get("description") or "").strip(), item.get("domain") or None,
                        item.get("range") or None)


def _read_json(text: str, where: str) -> Schema:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and exc.msg == "Extra data":
            return _read_jsonl(text, where)
        raise InputError(f"{where}: malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    return Schema.from_json(data, where)


def _read_jsonl(text: str, where: str) -> Schema:
    """The union of the ``relations`` of an extraction JSONL file's items."""
    relations: list[RelationSpec] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}:{lineno}: malformed JSON ({exc.msg}); expected one object per line") from exc
        if not isinstance(obj, dict):
            raise InputError(f"{where}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        if "relations" in obj:
            relations.extend(Schema.from_record(obj, f"{where}:{lineno}").relations)
    if not relations:
        raise InputError(f"{where}: no line has a 'relations' field; expected extraction items with 'relations'")
    return Schema(tuple(relations))


def _read_rdf(text: str, where: str) -> Schema:
    """An RDFS/OWL ontology's properties and classes (:func:`kgllm.rdf.ontology.read_ontology`)."""
    from kgllm.rdf.ontology import read_ontology

    return Schema.from_json(read_ontology(text, where), where)


def _looks_rdf(text: str) -> bool:
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip() and not line.lstrip().startswith("#")]
    head = "\n".join(lines[:5]).lstrip()[:400].lower()
    return head.startswith(("@prefix", "@base", "prefix ", "base ", "<?xml", "<rdf:", "<http")) or "<owl:" in head


#: (detect, read) pairs tried in order by :meth:`Schema.from_file`.
_READERS: tuple[tuple[Callable[[str], bool], Callable[[str, str], Schema]], ...] = (
    (_looks_rdf, _read_rdf),
    (lambda text: text.lstrip().startswith(("[", "{")), _read_json),
)
