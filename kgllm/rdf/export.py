"""Export any :class:`~kgllm.stores.base.GraphStore` to RDF: Turtle, N-Triples, JSON-LD, TriG or N-Quads.

What is written (``B`` the base namespace, ``kg:`` the vocabulary of :mod:`kgllm.rdf.naming`):

* one header triple ``<B> a kg:Export`` (an import reads the base from it);
* per entity: ``rdfs:label`` (its name), ``skos:altLabel`` (each alias), ``rdf:type <B type/T>`` (its type);
  an entity imported from a foreign IRI keeps that IRI (its full IRI is an alias) and a ``kg:key`` with its id;
* per fact ``s r o``: the triple, in the named graph ``<B doc/D>`` of each source document ``D`` (in the
  default graph when it has no provenance). Dates and numbers that are only objects are typed literals
  (``"1984"^^xsd:gYear``, ``"42"^^xsd:integer``), see :func:`~kgllm.rdf.naming.as_literal`;
* per provenance a statement node (RDF reification, no RDF-star needed) ``<B source/…> a kg:Source;
  rdf:subject s; rdf:predicate r; rdf:object o; kg:document <B doc/D>; kg:chunk; kg:start; kg:end;
  kg:extractor; kg:sentence`` in that document's graph (fields at their defaults are left out);
* a confidence other than 1 on a statement node ``<B fact/ID> kg:confidence 0.8; rdf:subject …``;
* each recorded merge ``<B merge/A> a kg:Merge; kg:mergedAlias "a"; kg:mergedInto <entity>; ...`` (for
  reading; an import does not re-apply merges: their undo data lives only in JSON graph files).

Triple formats (Turtle, N-Triples) hold the same statements without graph names: the statement nodes still
carry every source. N-Triples and N-Quads are streamed line by line; the other formats go through rdflib.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Entity, Fact, GraphDelta, Provenance
>>> store = MemoryStore()
>>> _ = store.upsert(GraphDelta(entities=[Entity("ada", "Ada", "PERSON"), Entity("1984", "1984", "DATE")],
...                             facts=[Fact("ada", "born_in", "1984", 0.8, (Provenance("d1", 0),))]))
>>> lines = list(iter_lines(store, "nq", Namespace("http://example.org/")))
>>> [line for line in lines if "relation/born" in line and "rdf-syntax" not in line]
['<http://example.org/entity/ada> <http://example.org/relation/born_in> "1984"^^<http://www.w3.org/2001/XMLSchema#gYear> <http://example.org/doc/d1> .']
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Iterator

from kgllm.errors import InputError
from kgllm.rdf.naming import KG, Namespace, as_literal
from kgllm.rdf.terms import RDF, RDFS, SKOS, XSD, Lit, Quad, Term, format_quad, is_iri, to_rdflib
from kgllm.stores.base import GraphStore
from kgllm.types import Entity, Fact

__all__ = ["FORMATS", "QUAD_FORMATS", "prefixes", "iter_quads", "iter_lines", "export_rdf", "to_dataset", "format_of"]

#: Format name -> (rdflib serializer, file suffixes).
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ttl": ("turtle", (".ttl", ".turtle")),
    "nt": ("nt", (".nt", ".ntriples")),
    "jsonld": ("json-ld", (".jsonld", ".json-ld")),
    "trig": ("trig", (".trig",)),
    "nq": ("nquads", (".nq", ".nquads")),
}
#: Formats that hold named graphs (provenance graphs survive as graphs).
QUAD_FORMATS = frozenset({"jsonld", "trig", "nq"})

_TYPE, _LABEL, _ALT = RDF + "type", RDFS + "label", SKOS + "altLabel"


def format_of(path: str | os.PathLike[str], given: str | None = None) -> str:
    """The RDF format named by ``given`` or by the file's extension (a ``.gz`` after it is skipped).

    >>> format_of("g.ttl"), format_of("dump.nq.gz"), format_of("x.data", "trig")
    ('ttl', 'nq', 'trig')
    """
    if given:
        if given not in FORMATS:
            raise InputError(f"unknown RDF format {given!r}; expected one of {', '.join(FORMATS)}")
        return given
    p = Path(path)
    suffix = (Path(p.stem) if p.suffix.lower() == ".gz" else p).suffix.lower()
    for name, (_, suffixes) in FORMATS.items():
        if suffix in suffixes:
            return name
    raise InputError(f"{path}: cannot tell the RDF format from the extension {suffix or '(none)'}; "
                     f"pass --format ({', '.join(FORMATS)})")


def _double(x: float) -> Lit:
    return Lit(repr(float(x)), XSD + "double")


def _int(x: int) -> Lit:
    return Lit(str(int(x)), XSD + "integer")


def _node_iri(entity: Entity) -> str | None:
    """The foreign IRI an entity was imported from (its first alias that is an absolute IRI), if any."""
    return next((a for a in entity.aliases if "://" in a and is_iri(a)), None)


def iter_quads(store: GraphStore, ns: Namespace) -> Iterator[Quad]:
    """Every statement of the export, in order (see the module docstring); reads facts twice, entities once."""
    yield ns.base, _TYPE, KG + "Export", None
    subjects: set[str] = set()
    for fact in store.facts():
        subjects.add(fact.subject)
    iris: dict[str, str] = {}
    used: set[str] = set()
    literals: dict[str, Lit] = {}
    for entity in store.entities():
        foreign = _node_iri(entity)
        if foreign in used:  # two entities kept one IRI: the second is written under its own id
            foreign = None
        lit = as_literal(entity.name, entity.type)
        if (lit is not None and not entity.aliases and entity.id not in subjects and foreign is None
                and entity.name == entity.id):
            literals[entity.id] = lit
            continue
        node = foreign or ns.entity(entity.id)
        if foreign is not None:
            iris[entity.id] = foreign
            used.add(foreign)
        yield node, _LABEL, Lit(entity.name), None
        for alias in entity.aliases:
            if alias != foreign:
                yield node, _ALT, Lit(alias), None
        if entity.type:
            yield node, _TYPE, ns.type(entity.type), None
        if foreign is not None:
            yield node, KG + "key", Lit(entity.id), None
    del subjects
    for fact in store.facts():
        yield from _fact_quads(fact, ns, iris, literals)
    for m in store.merges():
        node = ns.merge(m.alias)
        yield node, _TYPE, KG + "Merge", None
        yield node, KG + "mergedAlias", Lit(m.alias), None
        yield node, KG + "mergedInto", iris.get(m.canonical) or ns.entity(m.canonical), None
        yield node, KG + "mergeMethod", Lit(m.method), None
        yield node, KG + "mergeScore", _double(m.score), None
        if m.doc_id:
            yield node, KG + "mergeDocument", ns.doc(m.doc_id), None


def _fact_quads(fact: Fact, ns: Namespace, iris: dict[str, str], literals: dict[str, Lit]) -> Iterator[Quad]:
    s = iris.get(fact.subject) or ns.entity(fact.subject)
    r = ns.relation(fact.relation)
    o: Term = literals.get(fact.object) or iris.get(fact.object) or ns.entity(fact.object)
    if fact.confidence != 1.0:
        node = ns.fact(fact.id)
        yield node, KG + "confidence", _double(fact.confidence), None
        yield node, RDF + "subject", s, None
        yield node, RDF + "predicate", r, None
        yield node, RDF + "object", o, None
    if not fact.provenance:
        yield s, r, o, None
        return
    for doc in dict.fromkeys(p.doc_id for p in fact.provenance):
        yield s, r, o, ns.doc(doc)
    for p in fact.provenance:
        g = ns.doc(p.doc_id)
        node = ns.source(fact.id, p.key())
        yield node, _TYPE, KG + "Source", g
        yield node, RDF + "subject", s, g
        yield node, RDF + "predicate", r, g
        yield node, RDF + "object", o, g
        yield node, KG + "document", g, g
        if p.chunk != -1:
            yield node, KG + "chunk", _int(p.chunk), g
        if p.start != -1:
            yield node, KG + "start", _int(p.start), g
        if p.end != -1:
            yield node, KG + "end", _int(p.end), g
        if p.extractor:
            yield node, KG + "extractor", Lit(p.extractor), g
        if p.sentence:
            yield node, KG + "sentence", Lit(p.sentence), g


def iter_lines(store: GraphStore, fmt: str, ns: Namespace) -> Iterator[str]:
    """The export as N-Triples (``fmt="nt"``) or N-Quads (``"nq"``) lines, without newlines."""
    if fmt not in ("nt", "nq"):
        raise InputError(f"line-by-line export writes 'nt' or 'nq', not {fmt!r}")
    quads = fmt == "nq"
    for s, p, o, g in iter_quads(store, ns):
        yield format_quad(s, p, o, g if quads else None)


def to_dataset(store: GraphStore, ns: Namespace, named_graphs: bool = True):
    """The export as an rdflib ``Dataset`` (documents as named graphs) or, without them, a ``Graph``."""
    return _fill(iter_quads(store, ns), ns, named_graphs)[0]


def _fill(quads: Iterator[Quad], ns: Namespace, named_graphs: bool):
    from rdflib import Dataset, Graph, URIRef

    target = Dataset(default_union=True) if named_graphs else Graph()
    for prefix, iri in prefixes(ns).items():
        target.bind(prefix, iri)
    graphs: dict[str, object] = {}
    n = 0
    for s, p, o, g in quads:
        n += 1
        triple = (to_rdflib(s), URIRef(p), to_rdflib(o))
        if g is None or not named_graphs:
            target.add(triple)
        else:
            if g not in graphs:
                graphs[g] = target.graph(URIRef(g))
            graphs[g].add(triple)  # type: ignore[attr-defined]
    return target, n


def prefixes(ns: Namespace) -> dict[str, str]:
    """Prefixes bound in Turtle/TriG output and predeclared in SPARQL: ``kg``, ``ent``, ``rel``, ``etype``, ..."""
    return {"kg": KG, "ent": ns.base + "entity/", "rel": ns.base + "relation/", "etype": ns.base + "type/",
            "doc": ns.base + "doc/", "rdfs": RDFS, "skos": SKOS, "xsd": XSD}


def export_rdf(store: GraphStore, path: str | os.PathLike[str], fmt: str | None = None,
               base: str | None = None) -> int:
    """Write ``store`` to ``path`` as RDF (format from ``fmt`` or the extension); returns statements written.

    N-Triples and N-Quads stream to a temporary file renamed over ``path`` when complete (gzip-compressed when
    ``path`` ends in ``.gz``); Turtle, TriG and JSON-LD are built in memory with rdflib first.
    """
    target = Path(path)
    fmt = format_of(target, fmt)
    if target.suffix.lower() == ".gz" and fmt not in ("nt", "nq"):
        raise InputError(f"{target}: only N-Triples and N-Quads are written compressed (.nt.gz, .nq.gz)")
    ns = Namespace(base) if base else Namespace()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    n = 0
    try:
        if fmt in ("nt", "nq"):
            opener = gzip.open if target.suffix.lower() == ".gz" else open
            with opener(tmp, "wt", encoding="utf-8", newline="\n") as fh:
                for line in iter_lines(store, fmt, ns):
                    fh.write(line + "\n")
                    n += 1
        else:
            data, n = _fill(iter_quads(store, ns), ns, named_graphs=fmt in QUAD_FORMATS)
            data.serialize(destination=str(tmp), format=FORMATS[fmt][0], encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return n
