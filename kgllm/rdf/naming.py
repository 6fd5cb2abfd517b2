"""IRIs of a kgllm graph in RDF: one configurable base namespace, a fixed vocabulary, readable names back.

Under a base ``B`` (default :data:`DEFAULT_BASE`) an entity id becomes ``B entity/<id>``, a relation
``B relation/<name>``, an entity type ``B type/<name>`` and a source document (a named graph) ``B doc/<id>``.
Ids are written readably and reversibly: spaces become ``_``, characters other than letters, digits and
``-.~`` are percent-encoded (in entity ids ``_`` itself as ``%5F``; relation, type and document names keep ``_``), so
:meth:`Namespace.parse` gives back the exact id.
The vocabulary for provenance and confidence (:data:`KG`) does not depend on the base.

Examples
--------
>>> ns = Namespace("http://example.org/kg/")
>>> ns.entity("ada lindqvist"), ns.relation("born_in")
('http://example.org/kg/entity/ada_lindqvist', 'http://example.org/kg/relation/born_in')
>>> ns.parse("http://example.org/kg/entity/tromsø_(city)")
('entity', 'tromsø (city)')
>>> readable_name("http://dbpedia.org/resource/Haile_Selassie_I_of_Ethiopia")
'Haile Selassie I of Ethiopia'
>>> as_literal("1984", "DATE"), entity_type_of(XSD + "gYear")
(Lit(lex='1984', datatype='http://www.w3.org/2001/XMLSchema#gYear', lang=None), 'DATE')
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

from kgllm.errors import InputError
from kgllm.rdf.terms import XSD, Lit, is_iri

__all__ = ["DEFAULT_BASE", "KG", "Namespace", "encode_id", "decode_id", "readable_name", "local_name", "as_literal",
           "entity_type_of"]

DEFAULT_BASE = "https://kgllm.example/"
"""Base namespace of exported IRIs unless another is given (``.example`` is a reserved, never-resolving domain)."""

KG = "https://kgllm.example/vocab#"
"""The kgllm vocabulary: ``kg:Source``, ``kg:document``, ``kg:chunk``, ``kg:confidence``, ... (fixed)."""

_KINDS = ("entity", "relation", "type", "doc")
_KEEP = re.compile(r"[\w\-.~]", re.UNICODE)


def encode_id(text: str, spaces: bool = True) -> str:
    """``text`` as an IRI path segment, readable and reversible by :func:`decode_id`.

    With ``spaces`` (entity ids) a space is written ``_`` and an ``_`` ``%5F``; without (relation
    and type names, document ids, where ``_`` is common) an ``_`` stays and a space is ``%20``.

    >>> encode_id("a_b c/d"), decode_id(encode_id("a_b c/d"))
    ('a%5Fb_c%2Fd', 'a_b c/d')
    >>> encode_id("born_in", spaces=False), decode_id("born_in", spaces=False)
    ('born_in', 'born_in')
    """
    out = []
    for ch in text:
        if ch == " " and spaces:
            out.append("_")
        elif (ch != "_" or not spaces) and _KEEP.fullmatch(ch) and ch.isprintable():
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
    return "".join(out)


def decode_id(segment: str, spaces: bool = True) -> str:
    """Inverse of :func:`encode_id`."""
    return unquote(segment.replace("_", " ") if spaces else segment)


def local_name(iri: str) -> str:
    """The part of ``iri`` after its last ``#``, ``/`` or ``:`` (the whole IRI when that part is empty).

    >>> local_name("http://www.w3.org/2000/01/rdf-schema#label"), local_name("urn:isbn:0451450523")
    ('label', '0451450523')
    """
    for sep in ("#", "/", ":"):
        head, found, tail = iri.rpartition(sep)
        if found and tail:
            return tail
        if found:
            break
    return iri


def readable_name(iri: str) -> str:
    """A readable name for a foreign IRI: its local name, percent-decoded, underscores as spaces."""
    name = " ".join(unquote(local_name(iri)).replace("_", " ").split())
    return name or iri


class Namespace:
    """The IRIs of one graph under ``base`` (an absolute IRI ending in ``/`` or ``#``)."""

    def __init__(self, base: str = DEFAULT_BASE) -> None:
        if not is_iri(base) or not base.endswith(("/", "#")):
            raise InputError(f"RDF base namespace must be an absolute IRI ending in '/' or '#', got {base!r}")
        self.base = base

    def entity(self, eid: str) -> str:
        return f"{self.base}entity/{encode_id(eid)}"

    def relation(self, name: str) -> str:
        return f"{self.base}relation/{encode_id(name, spaces=False)}"

    def type(self, name: str) -> str:
        return f"{self.base}type/{encode_id(name, spaces=False)}"

    def doc(self, doc_id: str) -> str:
        return f"{self.base}doc/{encode_id(doc_id, spaces=False)}"

    def fact(self, fact_id: str) -> str:
        """The statement node carrying a fact's confidence."""
        return f"{self.base}fact/{fact_id}"

    def source(self, fact_id: str, key: tuple) -> str:
        """The statement node of one provenance of a fact (stable: derived from the fact id and the source key)."""
        digest = hashlib.sha1(repr((fact_id, key)).encode()).hexdigest()[:16]
        return f"{self.base}source/{digest}"

    def merge(self, alias: str) -> str:
        return f"{self.base}merge/{encode_id(alias)}"

    def parse(self, iri: str) -> tuple[str, str] | None:
        """``(kind, id)`` for an entity, relation, type or document IRI under this base; ``None`` otherwise."""
        if not iri.startswith(self.base):
            return None
        kind, slash, rest = iri[len(self.base):].partition("/")
        if not slash or kind not in _KINDS or not rest or "/" in rest:
            return None
        return kind, decode_id(rest, spaces=kind == "entity")


_DATE_TYPES = {XSD + t for t in ("gYear", "date", "gYearMonth", "dateTime")}
_NUMBER_TYPES = {XSD + t for t in ("integer", "decimal", "double", "float", "int", "long", "short", "byte",
                                   "nonNegativeInteger", "positiveInteger", "negativeInteger",
                                   "nonPositiveInteger", "unsignedInt", "unsignedLong", "unsignedShort")}
_LITERAL_SHAPES = (
    ("DATE", re.compile(r"-?[1-9]\d{3}|0\d{3}"), XSD + "gYear"),
    ("DATE", re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"), XSD + "date"),
    ("DATE", re.compile(r"\d{4}-(0[1-9]|1[0-2])"), XSD + "gYearMonth"),
    ("CARDINAL", re.compile(r"-?(0|[1-9]\d*)"), XSD + "integer"),
    ("CARDINAL", re.compile(r"-?(0|[1-9]\d*)\.\d*[1-9]"), XSD + "decimal"),
)


def as_literal(name: str, entity_type: str) -> Lit | None:
    """The typed literal an entity is written as, or ``None`` when it stays a node.

    Only a ``DATE`` whose name is a year, a date or a year-month and a ``CARDINAL`` whose name is an integer
    or a decimal in canonical form qualify: importing the literal gives back exactly that name and type.

    >>> as_literal("2015-03-01", "DATE").datatype.endswith("date"), as_literal("in 2015", "DATE")
    (True, None)
    """
    for kind, shape, datatype in _LITERAL_SHAPES:
        if kind == entity_type and shape.fullmatch(name):
            return Lit(name, datatype)
    return None


def entity_type_of(datatype: str | None) -> str:
    """The entity type a literal object of ``datatype`` gets on import (``DATE``, ``CARDINAL`` or ``""``)."""
    if datatype in _DATE_TYPES:
        return "DATE"
    if datatype in _NUMBER_TYPES:
        return "CARDINAL"
    return ""
