"""The :class:`KnowledgeGraph` facade: ingest text into a store, query it, save it.

Examples
--------
>>> import kgllm
>>> kg = kgllm.KnowledgeGraph()
>>> report = kg.ingest(["Marie Curie was born in Warsaw. Warsaw is the capital of Poland."])
>>> report.documents, report.facts_added, report.entities_added
(1, 2, 3)
>>> sorted(f.relation for f in kg.store.neighbors("warsaw"))
['born_in', 'capital_of']
>>> kg.query('MATCH (a)-[r]->(b) WHERE a.name == "Warsaw" RETURN b.name')
[{'b.name': 'Poland'}]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

from kgllm.errors import InputError, StoreError
from kgllm.extract.base import ExtractionResult, Extractor, SkippedDocument
from kgllm.extract.resolve import EntityResolver
from kgllm.extract.rules import RuleExtractor
from kgllm.extract.violations import Violation, check_on_violation
from kgllm.loaders import SkippedFile, load_text, read_kb_tsv, read_sources
from kgllm.schema import Schema
from kgllm.stores.base import GraphStore, UpsertResult
from kgllm.stores.ledger import DocumentRecord, content_hash
from kgllm.stores.memory import MemoryStore
from kgllm.types import Document, GraphDelta, Merge

__all__ = ["KnowledgeGraph", "IngestReport"]


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one :meth:`KnowledgeGraph.ingest` call did."""

    documents: int
    extracted: int  # facts produced by the extractor
    entities_added: int  # growth of stats()['entities'] over the ingest, merges applied
    facts_added: int  # growth of stats()['facts'] over the ingest
    provenance_added: int
    merges_applied: int
    skipped: tuple[SkippedDocument, ...] = ()  # documents the extractor could not read; they added nothing
    unchanged: int = 0  # documents the ledger holds with the same content: not extracted again
    replaced: int = 0  # changed documents whose previous facts were retracted and replaced
    violations: int = 0  # typed facts whose entity types clash with the relation's domain/range (see on_violation)
    violation_examples: tuple[Violation, ...] = ()  # the first few of them
    duplicates: tuple[tuple[str, str], ...] = ()  # (new document, document with the same content): not ingested
    merges: tuple[Merge, ...] = ()  # the entity merges this ingest recorded (undo one with store.unmerge(alias))
    unreadable: tuple[SkippedFile, ...] = ()  # files and JSONL lines ingest_files could not read (nothing of them)
    ignored: tuple[str, ...] = ()  # files in folders of a kind ingest_files does not read (.pdf, .png, ...)


def _sum(reports: list[IngestReport]) -> IngestReport:
    """One report for several ingests, one after the other (counts added, lists joined)."""
    if len(reports) == 1:
        return reports[0]
    numbers = {k: sum(getattr(r, k) for r in reports) for k in (
        "documents", "extracted", "entities_added", "facts_added", "provenance_added", "merges_applied",
        "unchanged", "replaced", "violations")}
    lists = {k: tuple(x for r in reports for x in getattr(r, k)) for k in (
        "skipped", "duplicates", "merges", "unreadable", "ignored")}
    examples = tuple(v for r in reports for v in r.violation_examples)[:KnowledgeGraph.VIOLATION_EXAMPLES]
    return IngestReport(**numbers, **lists, violation_examples=examples)


def _unique(docs: list[Document]) -> list[Document]:
    """``docs`` with repeats of one document (same id and text) dropped; one id with two texts is an error."""
    seen: dict[str, Document] = {}
    for d in docs:
        other = seen.setdefault(d.id, d)
        if other.text != d.text:
            raise InputError(f"document id {d.id!r} is given twice with different texts ({other.source or 'text'} "
                             f"and {d.source or 'text'}); ids must be unique")
    return list(seen.values())


class KnowledgeGraph:
    """A graph store plus the extraction pipeline that fills it.

    Parameters
    ----------
    store:
        Any :class:`~kgllm.stores.base.GraphStore`; default an in-memory
        :class:`~kgllm.stores.memory.MemoryStore`.
    extractor:
        Turns documents into a :class:`~kgllm.types.GraphDelta`; default the spaCy
        :class:`~kgllm.extract.rules.RuleExtractor`.
    resolver:
        Entity resolution before writing; ``None`` disables it.
    schema:
        What the graph may contain (:class:`~kgllm.schema.Schema`, or a path to a schema file). When given, the
        extractor's facts are typed onto its relations before resolution and writing
        (:class:`~kgllm.extract.typing.RelationTyper`: a fact no relation of the schema fits is dropped).
    canonicalize:
        Without a schema, join near-identical spellings of one relation within each ingest
        (:func:`~kgllm.extract.typing.canonicalize_relations`; conservative, off by default).
    on_violation:
        With a schema, what a typed fact whose subject/object type clashes with its relation's domain/range gets:
        ``"penalize"`` (default: only a lower score when choosing the relation), ``"report"`` (kept, counted in
        :attr:`IngestReport.violations`) or ``"drop"`` (removed and counted). Anything else is a
        :class:`~kgllm.errors.ConfigError`.
    """

    #: How many violations an :class:`IngestReport` keeps as examples.
    VIOLATION_EXAMPLES = 20

    def __init__(self, store: GraphStore | None = None, extractor: Extractor | None = None,
                 resolver: EntityResolver | None | str = "default",
                 schema: Schema | str | os.PathLike[str] | None = None, canonicalize: bool = False,
                 on_violation: str = "penalize") -> None:
        self.store: GraphStore = store if store is not None else MemoryStore()
        self.extractor: Extractor = extractor or RuleExtractor()
        self.resolver = EntityResolver() if resolver == "default" else resolver
        if schema is not None and not isinstance(schema, Schema):
            schema = Schema.from_file(schema)
        self.schema: Schema | None = schema
        self.canonicalize = canonicalize
        self.on_violation = check_on_violation(on_violation)
        self._typer: Any = None
        self._violations: list[Violation] = []

    # ------------------------------------------------------------------ build
    def ingest(self, texts: Iterable[str | Document] | str | Document, progress: bool = False,
               allow_duplicates: bool = False) -> IngestReport:
        """Extract facts from texts or documents and write them, with provenance.

        All inputs are validated before anything is written: an empty text
        raises :class:`~kgllm.errors.InputError` and leaves the store unchanged.
        The report's ``entities_added`` and ``facts_added`` are the growth of
        :meth:`stats` over the call (resolution merges included), so they can be
        negative when a merge joins two entities the store already held.

        A new document whose text is the text of another document (in the ledger, or earlier in ``texts``)
        is not ingested, unless ``allow_duplicates``: its facts would only repeat the other's provenance.
        :attr:`IngestReport.duplicates` names both.

        >>> import kgllm
        >>> kg = kgllm.KnowledgeGraph()
        >>> _ = kg.ingest([kgllm.Document("notes/a.txt", "Warsaw is the capital of Poland.")])
        >>> kg.ingest([kgllm.Document("a.txt", "Warsaw is the capital of Poland.")]).duplicates
        (('a.txt', 'notes/a.txt'),)
        """
        if isinstance(texts, (str, Document)):
            texts = [texts]
        docs: list[Document] = []
        for i, item in enumerate(texts):
            if isinstance(item, Document):
                if not item.text.strip():
                    raise InputError(f"document {item.id!r} has empty text: nothing to ingest")
                docs.append(item)
            elif isinstance(item, str):
                if not item.strip():
                    raise InputError(f"text #{i} is empty: nothing to ingest")
                docs.append(load_text(item))
            else:
                raise InputError(f"ingest expects str or Document items, got {type(item).__name__} at #{i}")
        if not docs:
            raise InputError("nothing to ingest: no texts given")
        docs = _unique(docs)
        ledger = callable(getattr(self.store, "ingest_documents", None))
        before = self.store.stats()
        todo, unchanged, replaced = [], 0, 0
        duplicates: list[tuple[str, str]] = []
        known = {d.doc_id: d for d in self.store.documents()} if ledger else {}  # type: ignore[attr-defined]
        holder = {d.content_hash: d.doc_id for d in sorted(known.values(), key=lambda d: d.doc_id, reverse=True)}
        for doc in docs:  # the ledger decides: new and changed documents are extracted, unchanged ones are not
            digest = content_hash(doc.text)
            old = known.get(doc.id)
            if old is not None and old.content_hash == digest:
                unchanged += 1
                continue
            twin = holder.setdefault(digest, doc.id)
            if old is None and twin != doc.id and not allow_duplicates:
                duplicates.append((doc.id, twin))
                continue
            replaced += old is not None
            todo.append(doc)
        merged_before = {m.alias for m in self.store.merges()}
        if not todo:
            return IngestReport(len(docs), 0, 0, 0, 0, 0, (), unchanged, 0, duplicates=tuple(duplicates))
        delta = self._prepare(self.extractor.extract(todo, progress=progress))
        skipped = tuple(delta.skipped) if isinstance(delta, ExtractionResult) else ()
        if ledger:
            failed = {s.doc_id for s in skipped}
            records = [DocumentRecord(d.id, d.source or d.id, content_hash(d.text), text=d.text)
                       for d in todo if d.id not in failed]
            result = self.store.ingest_documents(records, delta)  # type: ignore[attr-defined]
        else:
            result = self.store.upsert(delta)
        after = self.store.stats()
        # The store adds a merged-away alias before it merges it, so its own "added" counts run ahead of what it
        # holds; the report counts what stats() shows, as a person checking with `kgllm stats` sees it.
        merges = tuple(m for m in self.store.merges() if m.alias not in merged_before)
        return IngestReport(len(docs), len(delta.facts), after["entities"] - before["entities"],
                            after["facts"] - before["facts"], result.provenance_added, result.merges_applied,
                            skipped, unchanged, replaced, len(self._violations),
                            tuple(self._violations[:self.VIOLATION_EXAMPLES]), tuple(duplicates), merges)

    def _prepare(self, delta: GraphDelta) -> GraphDelta:
        """Type (schema) or canonicalise the extractor's relations, then resolve entities against the store.

        Entities no fact uses are left out first (a job does the same): the graph holds what facts say, and a
        document's retraction leaves nothing of it behind.
        """
        skipped = list(delta.skipped) if isinstance(delta, ExtractionResult) else []
        used = {x for f in delta.facts for x in (f.subject, f.object)}
        if any(e.id not in used for e in delta.entities):
            delta = GraphDelta([e for e in delta.entities if e.id in used], list(delta.facts), list(delta.merges))
        self._violations = []
        if self.schema is not None:
            if self._typer is None:
                from kgllm.extract.typing import RelationTyper

                self._typer = RelationTyper(self.schema, on_violation=self.on_violation)
            delta = self._typer.type_delta(delta)
            self._violations = list(self._typer.last_violations)
        elif self.canonicalize:
            from kgllm.extract.typing import canonicalize_relations

            delta = canonicalize_relations(delta)
        if self.resolver is not None:
            delta = self.resolver.resolve(delta, self.store)
        if skipped and not isinstance(delta, ExtractionResult):
            delta = ExtractionResult(list(delta.entities), list(delta.facts), list(delta.merges), skipped)
        return delta

    def ingest_files(self, sources: Sequence[str | os.PathLike[str]], text_field: str = "text",
                     progress: bool = False, strict: bool = False, allow_duplicates: bool = False,
                     batch_size: int | None = None) -> IngestReport:
        """Load text files, folders and JSONL files (see :func:`kgllm.loaders.read_sources`) and ingest them.

        A file that cannot be read (empty, binary, not UTF-8) and every bad JSONL line is skipped and listed in
        :attr:`IngestReport.unreadable`; with ``strict`` they are an :class:`~kgllm.errors.InputError` naming
        each, raised before anything is written. ``allow_duplicates``: see :meth:`ingest`.

        ``batch_size`` ingests the documents in groups fixed by their places in the sources, one :meth:`ingest`
        (one transaction) each, as a job (:mod:`kgllm.jobs`) with that ``batch_size`` does: the same files and
        settings then give the same graph. By default all are ingested at once.
        """
        found = read_sources(sources, text_field=text_field)
        if strict:
            found.refuse_skipped()
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        groups = found.groups(batch_size) if batch_size else [found.documents]
        report = _sum([self.ingest(g, progress=progress, allow_duplicates=allow_duplicates) for g in groups])
        return replace(report, unreadable=tuple(found.skipped), ignored=tuple(found.ignored))

    def import_kb(self, path: str | os.PathLike[str]) -> UpsertResult:
        """Add a ``subject<TAB>relation<TAB>object`` knowledge base (no extraction)."""
        return self.store.upsert(read_kb_tsv(path))

    def retract(self, doc_id: str) -> int:
        """Remove everything a document contributed (and its ledger row); returns the number of facts removed.

        Raises :class:`~kgllm.errors.NotFoundError` when the graph holds nothing of ``doc_id``.
        """
        return self.store.retract_document(doc_id)

    def documents(self) -> list[DocumentRecord]:
        """The ledger: one :class:`~kgllm.stores.ledger.DocumentRecord` per ingested document, sorted by id.

        >>> import kgllm
        >>> kg = kgllm.KnowledgeGraph()
        >>> _ = kg.ingest([kgllm.Document("note-1", "Warsaw is the capital of Poland.")])
        >>> [(d.doc_id, d.facts) for d in kg.documents()]
        [('note-1', 1)]
        >>> kg.ingest([kgllm.Document("note-1", "Warsaw is the capital of Poland.")]).unchanged
        1
        """
        documents = getattr(self.store, "documents", None)
        if not callable(documents):
            raise StoreError(f"{type(self.store).__name__} keeps no document ledger")
        return list(documents())

    # ------------------------------------------------------------------ read
    def query(self, cypher: str, params: dict[str, Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Run a read-only Cypher query on the store."""
        return self.store.query(cypher, params, limit=limit)

    def stats(self) -> dict[str, int]:
        """Counts of entities, facts, relations, documents, provenances and merges in the store."""
        return self.store.stats()

    # ----------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Export the graph to a file, atomically (in-memory store only); the name says the format.

        ``.json`` (``.json.gz``: compressed) writes JSON, ``.sqlite``/``.db`` a SQLite graph file (what the
        CLI's ``--graph`` uses); :meth:`load` opens either.
        """
        if not isinstance(self.store, MemoryStore):
            raise StoreError(f"{type(self.store).__name__} persists itself; save() is for the in-memory store")
        self.store.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> "KnowledgeGraph":
        """Open a graph file written by :meth:`save` or the CLI: JSON, or SQLite (durable: each write commits).

        The format is read from the file's bytes, whatever its name.
        """
        return cls(MemoryStore.load(path), **kwargs)
