"""Import RDF into any :class:`~kgllm.stores.base.GraphStore`: validate everything first, then write in batches.

Pass 1 reads the whole file without writing: it checks every line and statement node and collects what each
node needs to become an entity (labels, aliases, type, kgllm key) and the facts' confidences. Malformed RDF
raises :class:`~kgllm.errors.InputError` (file and line for N-Triples/N-Quads) with the store untouched.
Pass 2 reads the file again and writes entities, then facts, ``batch_size`` at a time through
``store.upsert``. N-Triples/N-Quads are streamed both times, so memory grows with the entities, not the file.

How statements become the graph (``kg:`` and the IRIs: :mod:`kgllm.rdf.naming`; the inverse of
:mod:`kgllm.rdf.export`, so export then import gives the same graph):

* a node IRI under the base namespace (``B entity/<id>``) is the entity ``<id>``; any other IRI becomes an
  entity named by its ``rdfs:label`` (or ``skos:prefLabel``; one without a language or in English preferred)
  or else its readable local name (``…/Haile_Selassie`` -> "Haile Selassie"), its id derived from that name
  (``kg:key`` when given), and its full IRI kept as an alias. Two IRIs whose names give one id stay apart:
  the later one's id gets the IRI appended;
* ``skos:altLabel`` and further labels are aliases; the first ``rdf:type`` is the entity type (its local
  name), further types become ``is_a`` facts;
* any other statement is a fact, its relation the predicate's local name; a literal object is an entity named
  by its lexical form (dates typed ``DATE``, numbers ``CARDINAL``);
* ``kg:Source`` statement nodes give facts their provenance; ``kg:confidence`` nodes their confidence; a
  statement in a named graph that is not kgllm's gets that graph's IRI as its source document;
* ``kg:Merge`` records are counted but not re-applied; other reified statements are ignored (counted).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from kgllm.errors import InputError
from kgllm.progress import progress as progress_bar
from kgllm.rdf.export import format_of
from kgllm.rdf.naming import KG, DEFAULT_BASE, Namespace, entity_type_of, local_name
from kgllm.rdf.nodes import NodeInfo, plan_entities
from kgllm.rdf.reader import BATCH_LINES, open_source
from kgllm.rdf.terms import RDF, RDFS, SKOS, Blank, Lit, Quad, Term
from kgllm.stores.base import GraphStore
from kgllm.types import Fact, GraphDelta, Provenance, entity_id

__all__ = ["ImportReport", "import_rdf"]

_TYPE = RDF + "type"
_LABELS = {RDFS + "label": 0, SKOS + "prefLabel": 0}
_ALT = SKOS + "altLabel"
_STMT = {RDF + "subject": "s", RDF + "predicate": "p", RDF + "object": "o", KG + "confidence": "confidence",
         KG + "document": "document", KG + "chunk": "chunk", KG + "start": "start", KG + "end": "end",
         KG + "extractor": "extractor", KG + "sentence": "sentence"}
_STMT_CLASSES = {KG + "Source": "Source", RDF + "Statement": "Statement"}
_MERGE = {KG + "mergedAlias", KG + "mergedInto", KG + "mergeMethod", KG + "mergeScore", KG + "mergeDocument"}


@dataclass
class ImportReport:
    """What an import read and wrote."""

    path: str
    format: str
    statements: int = 0
    entities: int = 0  # entities written (before the store folds names together)
    facts: int = 0  # facts written (with repeats: a fact in two graphs counts twice)
    sources: int = 0  # provenance records read
    entities_added: int = 0
    facts_added: int = 0
    provenance_added: int = 0
    merges_not_applied: int = 0
    ignored: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Pass:
    """One reading of the file; ``plan`` is None in pass 1 (collect, check) and the id map in pass 2 (write)."""

    def __init__(self, path: str, ns: Namespace, base_given: bool, store: GraphStore | None = None,
                 plan: dict[Term, str] | None = None, first: "_Pass | None" = None, batch_size: int = 10_000):
        self.where, self.ns, self.base_given = path, ns, base_given
        self.store, self.plan, self.first, self.batch_size = store, plan, first, batch_size
        self.nodes: dict[Term, NodeInfo | None] = {} if first is None else first.nodes
        self.literals: dict[str, str] = {} if first is None else first.literals
        self.confidence: dict[int, float] = {} if first is None else first.confidence
        self.open: dict[Term, dict[str, Any]] = {}
        self.last: Term | None = None
        self.relations: dict[str, str] = {}
        self.facts: list[Fact] = []
        self.report = ImportReport(path, "")

    # ------------------------------------------------------------------ helpers
    def _at(self, lineno: int) -> str:
        return f"{self.where}:{lineno}" if lineno else self.where

    def _ignore(self, what: str) -> None:
        self.report.ignored[what] = self.report.ignored.get(what, 0) + 1

    def _node(self, term: Term) -> NodeInfo:
        info = self.nodes.get(term)
        if info is None:
            info = self.nodes[term] = NodeInfo()
        return info

    def _see(self, term: Term) -> bool:
        """Register an entity term (pass 1); False for a literal that names no entity (empty)."""
        if isinstance(term, Lit):
            lid = entity_id(term.lex) or term.lex.strip()
            if not lid:
                return False
            if self.first is None and term.lex not in self.literals:
                self.literals[term.lex] = entity_type_of(term.datatype)
            return True
        if self.first is None and term not in self.nodes:
            self.nodes[term] = None
        return True

    def _id(self, term: Term) -> str:
        assert self.plan is not None
        if isinstance(term, Lit):
            return entity_id(term.lex) or term.lex.strip()
        return self.plan[term]

    def _relation(self, iri: str) -> str:
        name = self.relations.get(iri)
        if name is None:
            parsed = self.ns.parse(iri)
            name = parsed[1] if parsed and parsed[0] == "relation" else (unquote(local_name(iri)).strip() or iri)
            self.relations[iri] = name
        return name

    def _doc(self, term: Term) -> str:
        if isinstance(term, Blank):
            return f"_:{term}"
        parsed = self.ns.parse(term)  # type: ignore[arg-type]
        return parsed[1] if parsed and parsed[0] == "doc" else str(term)

    def _fact(self, s: Term, p: str, o: Term, provenance: tuple[Provenance, ...] = ()) -> None:
        if not self._see(o):
            self._ignore("empty literal objects")
            return
        self._see(s)
        self.report.facts += 1
        if self.plan is None:
            return
        confidence = self.confidence.get(hash((s, p, o)), 1.0) if self.confidence else 1.0
        self.facts.append(Fact(self._id(s), self._relation(p), self._id(o), confidence, provenance))
        if len(self.facts) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.plan is None or not self.facts:
            return
        assert self.store is not None
        self._count(self.store.upsert(GraphDelta(facts=self.facts)))
        self.facts = []

    def _count(self, result: Any) -> None:
        self.report.entities_added += result.entities_added
        self.report.facts_added += result.facts_added
        self.report.provenance_added += result.provenance_added

    # ------------------------------------------------------------- statements
    def feed(self, lineno: int, quad: Quad) -> None:
        s, p, o, g = quad
        self.report.statements += 1
        if p in _STMT or (p == _TYPE and o in _STMT_CLASSES):
            self._statement(lineno, s, _STMT.get(p, "class"), o)
        elif p == _TYPE:
            self._type(lineno, s, o, g)
        elif p in _MERGE:
            pass
        elif p.startswith(KG):
            self._vocab(lineno, s, p, o)
        elif p in _LABELS and isinstance(o, Lit):
            if self.first is None:
                self._node(s).labels.append((0 if o.lang in (None, "") or o.lang.lower().startswith("en") else 1,
                                             o.lex))
        elif p == _ALT and isinstance(o, Lit):
            if self.first is None:
                self._node(s).alts.append(o.lex)
        else:
            if g is None or (self.ns.parse(g) or ("", ""))[0] == "doc":  # type: ignore[arg-type]
                self._fact(s, p, o)
            else:
                self._fact(s, p, o, (Provenance(self._doc(g)),))

    def _vocab(self, lineno: int, s: Term, p: str, o: Term) -> None:
        if p != KG + "key":
            raise InputError(f"{self._at(lineno)}: unknown kgllm vocabulary term <{p}>")
        if not isinstance(o, Lit) or not o.lex.strip():
            raise InputError(f"{self._at(lineno)}: kg:key must be a non-empty literal (an entity id)")
        if self.first is None:
            info = self._node(s)
            if info.key not in (None, o.lex):
                raise InputError(f"{self._at(lineno)}: a second kg:key for {s}: {o.lex!r}")
            info.key = o.lex

    def _type(self, lineno: int, s: Term, o: Term, g: Any) -> None:
        if o == KG + "Export":
            if self.first is None and not self.base_given and isinstance(s, str) and not isinstance(s, Blank):
                self.ns = Namespace(s)
            return
        if o == KG + "Merge":
            self.report.merges_not_applied += 1
            return
        if isinstance(o, Lit):
            self._fact(s, _TYPE, o)
            return
        if isinstance(o, Blank):
            self._ignore("blank-node types")
            return
        if self.first is None:
            info = self._node(s)
            if info.type is None:
                info.type = o  # the class IRI; named once the base is known (after pass 1)
            elif info.type != o:
                self._see(o)
                self._fact(s, "is_a", o)
            return
        chosen = self.first.nodes[s]
        if chosen is not None and chosen.type != o:
            self._fact(s, "is_a", o)

    def _statement(self, lineno: int, s: Term, key: str, o: Term) -> None:
        if isinstance(s, Lit):  # cannot happen with the parsers, kept for safety
            raise InputError(f"{self._at(lineno)}: a literal as subject")
        if s != self.last:
            self._close(self.last)
            self.last = s
        node = self.open.setdefault(s, {"@": lineno})
        if key in node and node[key] != o:
            raise InputError(f"{self._at(lineno)}: statement node {s} has two values for {key}: "
                             f"{node[key]!r} and {o!r}")
        node[key] = o

    def _close(self, s: Term | None, final: bool = False) -> None:
        if s is None or s not in self.open:
            return
        node = self.open[s]
        missing = [name for k, name in (("s", "subject"), ("p", "predicate"), ("o", "object")) if k not in node]
        if missing:
            if final:
                raise InputError(f"{self._at(node['@'])}: statement node {s} has no "
                                 f"{', '.join('rdf:' + k for k in missing)} (a statement node's triples must "
                                 "come together)")
            return
        del self.open[s]
        self._finish_statement(s, node)

    def finish(self) -> None:
        for s in list(self.open):
            self._close(s, final=True)
        self.flush()

    def _finish_statement(self, node_term: Term, node: dict[str, Any]) -> None:
        at = f"{self._at(node['@'])}: statement node {node_term}"
        s, p, o = node["s"], node["p"], node["o"]
        if isinstance(s, Lit) or not isinstance(p, str) or isinstance(p, (Lit, Blank)):
            raise InputError(f"{at}: rdf:subject must be a node and rdf:predicate an IRI")
        if "confidence" in node and self.first is None:
            c = node["confidence"]
            try:
                value = float(c.lex) if isinstance(c, Lit) else None
            except ValueError:
                value = None
            if value is None or not 0.0 <= value <= 1.0:
                raise InputError(f"{at}: kg:confidence must be a number in [0, 1], got {c!r}")
            self.confidence[hash((s, p, o))] = value
        if "document" not in node:
            if node.get("class") == KG + "Source":
                raise InputError(f"{at}: a kg:Source without kg:document")
            if "confidence" not in node:
                self._ignore("reified statements")
            return
        ints = {}
        for k in ("chunk", "start", "end"):
            v = node.get(k)
            try:
                ints[k] = -1 if v is None else int(v.lex) if isinstance(v, Lit) else int("x")
            except ValueError:
                raise InputError(f"{at}: kg:{k} must be an integer, got {v!r}") from None
        texts = {}
        for k in ("extractor", "sentence"):
            v = node.get(k)
            if v is not None and not isinstance(v, Lit):
                raise InputError(f"{at}: kg:{k} must be a literal, got {v!r}")
            texts[k] = v.lex if v is not None else ""
        doc = node["document"]
        if isinstance(doc, Lit):
            raise InputError(f"{at}: kg:document must be an IRI, got {doc!r}")
        self.report.sources += 1
        self._fact(s, p, o, (Provenance(self._doc(doc), ints["chunk"], ints["start"], ints["end"],
                                        texts["extractor"], texts["sentence"]),))


def import_rdf(store: GraphStore, path: str | os.PathLike[str], fmt: str | None = None, base: str | None = None,
               batch_size: int = 10_000, progress: bool = False) -> ImportReport:
    """Import the RDF file ``path`` into ``store`` (format from ``fmt`` or the extension).

    Parameters
    ----------
    store : GraphStore
        Any store; what it holds already stays (the import adds to it, like ``upsert``).
    path : path
        A ``.ttl``, ``.nt``, ``.jsonld``, ``.trig`` or ``.nq`` file.
    fmt : str, optional
        ``ttl``, ``nt``, ``jsonld``, ``trig`` or ``nq`` when the extension does not say.
    base : str, optional
        The base namespace of kgllm IRIs; default the one the file declares (``<B> a kg:Export``), else
        :data:`~kgllm.rdf.naming.DEFAULT_BASE`.
    batch_size : int
        Entities or facts per ``upsert`` call.
    progress : bool
        Show a progress bar on stderr.

    Raises
    ------
    InputError
        Malformed RDF (file and line), before anything is written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from kgllm.stores.memory import MemoryStore
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "g.nt"
    >>> _ = f.write_text('<http://x.org/Ada_Lindqvist> <http://x.org/bornIn> <http://x.org/Troms%C3%B8> .\\n'
    ...                  '<http://x.org/Ada_Lindqvist> <http://x.org/birthYear> "1984"^^'
    ...                  '<http://www.w3.org/2001/XMLSchema#gYear> .\\n', encoding="utf-8")
    >>> store = MemoryStore()
    >>> import_rdf(store, f).facts_added
    2
    >>> sorted(f.as_line() for f in store.facts())
    ['ada lindqvist --birthYear--> 1984', 'ada lindqvist --bornIn--> tromsø']
    >>> store.get_entity("tromsø")
    Entity(id='tromsø', name='Tromsø', type='', aliases=('http://x.org/Troms%C3%B8',))
    """
    where = str(path)
    fmt = format_of(path, fmt)
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    ns = Namespace(base or DEFAULT_BASE)
    source = open_source(path, fmt)
    first = _Pass(where, ns, base is not None)
    steps = f"(steps of {BATCH_LINES:,} lines)"
    for batch in progress_bar(source.batches(), f"checking {os.path.basename(where)} {steps}", enabled=progress):
        for lineno, quad in batch:
            first.feed(lineno, quad)
    first.finish()
    ids, entities = plan_entities(first.ns, first.nodes, first.literals)
    second = _Pass(where, first.ns, True, store, ids, first, batch_size)
    second.report.format = fmt
    for k in range(0, len(entities), batch_size):
        second._count(store.upsert(GraphDelta(entities=entities[k:k + batch_size])))
    second.report.entities = len(entities)
    for batch in progress_bar(source.batches(), f"importing {os.path.basename(where)} {steps}",
                              total=source.batches_seen, enabled=progress):
        for lineno, quad in batch:
            second.feed(lineno, quad)
    second.finish()
    report = second.report
    report.ignored = first.report.ignored
    report.merges_not_applied = first.report.merges_not_applied
    return report
