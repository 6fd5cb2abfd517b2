"""Read-only SPARQL over a store or an RDF file, through rdflib.

The store is exported to an in-memory rdflib ``Dataset`` (:func:`~kgllm.rdf.export.to_dataset`; the default
graph is the union of all graphs, so a fact is found whichever document graph it sits in) and the query runs
there. ``SELECT``, ``ASK``, ``CONSTRUCT`` and ``DESCRIBE`` are answered; updates (``INSERT``, ``DELETE``,
``LOAD``, ``CLEAR``, ...) are refused with :class:`~kgllm.errors.InputError`. The prefixes ``kg:`` (vocabulary),
``ent:``, ``rel:``, ``etype:``, ``doc:`` (the graph's namespaces), ``rdf:``, ``rdfs:``, ``skos:`` and
``xsd:`` are predeclared.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Entity, Fact, GraphDelta
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(entities=[Entity("ada", "Ada"), Entity("oslo", "Oslo")],
...                             facts=[Fact("ada", "born_in", "oslo")]))
>>> ds = store_dataset(store)
>>> run_sparql(ds, 'SELECT ?name WHERE { ?a rdfs:label "Ada" ; rel:born_in ?b . ?b rdfs:label ?name }').rows
[{'name': 'Oslo'}]
>>> run_sparql(ds, "ASK { ent:ada rel:born_in ent:oslo }").boolean
True
>>> run_sparql(ds, "DELETE WHERE { ?s ?p ?o }")
Traceback (most recent call last):
...
kgllm.errors.InputError: SPARQL updates are refused: kgllm sparql only reads (SELECT, ASK, CONSTRUCT, DESCRIBE)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgllm.errors import InputError
from kgllm.rdf.export import prefixes, format_of, to_dataset
from kgllm.rdf.naming import Namespace
from kgllm.rdf.reader import RdflibSource
from kgllm.stores.base import GraphStore

__all__ = ["SparqlResult", "store_dataset", "file_dataset", "run_sparql", "compact"]


@dataclass
class SparqlResult:
    """A query's answer: ``kind`` ``"select"`` (``variables``, ``rows``), ``"ask"`` (``boolean``) or ``"graph"``
    (``triples`` serialised as ``graph_text`` in Turtle)."""

    kind: str
    variables: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    boolean: bool | None = None
    graph_text: str = ""
    triples: int = 0

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "select":
            return {"variables": self.variables, "rows": self.rows}
        if self.kind == "ask":
            return {"boolean": self.boolean}
        return {"triples": self.triples, "turtle": self.graph_text}


def store_dataset(store: GraphStore, base: str | None = None) -> Any:
    """The store as an rdflib ``Dataset`` (union default graph) with kgllm's prefixes bound."""
    return to_dataset(store, Namespace(base) if base else Namespace())


def file_dataset(path: str | os.PathLike[str], fmt: str | None = None) -> Any:
    """An RDF file as an rdflib ``Dataset`` (union default graph); errors name the file."""
    return RdflibSource(Path(path), format_of(path, fmt)).dataset


def _value(term: Any) -> Any:
    from rdflib import Literal

    if term is None:
        return None
    if isinstance(term, Literal):
        value = term.toPython()
        return value if isinstance(value, (int, float, bool, str)) else str(term)
    return str(term)


def compact(value: Any, base: str | None = None) -> str:
    """A result value for a table: an IRI in a predeclared namespace written as ``prefix:name``.

    >>> compact("https://kgllm.example/entity/ada_lindqvist"), compact(3), compact(None)
    ('ent:ada_lindqvist', '3', '')
    """
    if value is None:
        return ""
    text = str(value)
    for prefix, iri in prefixes(Namespace(base) if base else Namespace()).items():
        if text.startswith(iri) and len(text) > len(iri) and "/" not in text[len(iri):]:
            return f"{prefix}:{text[len(iri):]}"
    return text


def run_sparql(dataset: Any, query: str, base: str | None = None) -> SparqlResult:
    """Run a read-only SPARQL query on ``dataset``; updates and syntax errors raise InputError."""
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parser import parseUpdate

    init_ns = prefixes(Namespace(base) if base else Namespace())
    init_ns["rdf"] = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    try:
        prepared = prepareQuery(query, initNs=init_ns)
    except Exception as exc:  # pyparsing's ParseException and rdflib's errors
        try:
            parseUpdate(query)
        except Exception:
            raise InputError(f"malformed SPARQL query: {' '.join(str(exc).split())[:300]}") from None
        raise InputError("SPARQL updates are refused: kgllm sparql only reads "
                         "(SELECT, ASK, CONSTRUCT, DESCRIBE)") from None
    try:
        result = dataset.query(prepared)
    except Exception as exc:
        raise InputError(f"SPARQL query failed: {type(exc).__name__}: {exc}") from None
    if result.type == "SELECT":
        variables = [str(v) for v in result.vars or []]
        rows = [{v: _value(row[v]) for v in variables} for row in result]
        return SparqlResult("select", variables, rows)
    if result.type == "ASK":
        return SparqlResult("ask", boolean=bool(result.askAnswer))
    graph = result.graph
    for prefix, iri in init_ns.items():
        graph.bind(prefix, iri)
    return SparqlResult("graph", graph_text=graph.serialize(format="turtle"), triples=len(graph))
