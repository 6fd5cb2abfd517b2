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
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from kgllm.errors import InputError, StoreError
from kgllm.extract.base import ExtractionResult, Extractor, SkippedDocument
from kgllm.extract.resolve import EntityResolver
from kgllm.extract.rules import RuleExtractor
from kgllm.loaders import load_sources, load_text, read_kb_tsv
from kgllm.schema import Schema
from kgllm.stores.base import GraphStore, UpsertResult
from kgllm.stores.memory import MemoryStore
from kgllm.types import Document

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
    """

    def __init__(self, store: GraphStore | None = None, extractor: Extractor | None = None,
                 resolver: EntityResolver | None | str = "default",
                 schema: Schema | str | os.PathLike[str] | None = None, canonicalize: bool = False) -> None:
        self.store: GraphStore = store if store is not None else MemoryStore()
        self.extractor: Extractor = extractor or RuleExtractor()
        self.resolver = EntityResolver() if resolver == "default" else resolver
        if schema is not None and not isinstance(schema, Schema):
            schema = Schema.from_file(schema)
        self.schema: Schema | None = schema
        self.canonicalize = canonicalize
        self._typer: Any = None

    # ------------------------------------------------------------------ build
    def ingest(self, texts: Iterable[str | Document] | str | Document, progress: bool = False) -> IngestReport:
        """Extract facts from texts or documents and write them, with provenance.

        All inputs are validated before anything is written: an empty text
        raises :class:`~kgllm.errors.InputError` and leaves the store unchanged.
        The report's ``entities_added`` and ``facts_added`` are the growth of
        :meth:`stats` over the call (resolution merges included), so they can be
        negative when a merge joins two entities the store already held.
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
        delta = self.extractor.extract(docs, progress=progress)
        skipped = tuple(delta.skipped) if isinstance(delta, ExtractionResult) else ()
        if self.schema is not None:
            if self._typer is None:
                from kgllm.extract.typing import RelationTyper

                self._typer = RelationTyper(self.schema)
            delta = self._typer.type_delta(delta)
        elif self.canonicalize:
            from kgllm.extract.typing import canonicalize_relations

            delta = canonicalize_relations(delta)
        if self.resolver is not None:
            delta = self.resolver.resolve(delta, self.store)
        before = self.store.stats()
        result = self.store.upsert(delta)
        after = self.store.stats()
        # The store adds a merged-away alias before it merges it, so its own "added" counts run ahead of what it
        # holds; the report counts what stats() shows, as a person checking with `kgllm stats` sees it.
        return IngestReport(len(docs), len(delta.facts), after["entities"] - before["entities"],
                            after["facts"] - before["facts"], result.provenance_added, result.merges_applied,
                            skipped)

    def ingest_files(self, sources: Sequence[str | os.PathLike[str]], text_field: str = "text",
                     progress: bool = False) -> IngestReport:
        """Load text files, folders and JSONL files (see :func:`kgllm.loaders.load_sources`) and ingest them."""
        return self.ingest(load_sources(sources, text_field=text_field), progress=progress)

    def import_kb(self, path: str | os.PathLike[str]) -> UpsertResult:
        """Add a ``subject<TAB>relation<TAB>object`` knowledge base (no extraction)."""
        return self.store.upsert(read_kb_tsv(path))

    def retract(self, doc_id: str) -> int:
        """Remove everything a document contributed; returns the number of facts removed."""
        return self.store.retract_document(doc_id)

    # ------------------------------------------------------------------ read
    def query(self, cypher: str, params: dict[str, Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Run a read-only Cypher query on the store."""
        return self.store.query(cypher, params, limit=limit)

    def stats(self) -> dict[str, int]:
        """Counts of entities, facts, relations, documents, provenances and merges in the store."""
        return self.store.stats()

    # ----------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the graph to a file (atomic; in-memory store only)."""
        if not isinstance(self.store, MemoryStore):
            raise StoreError(f"{type(self.store).__name__} persists itself; save() is for the in-memory store")
        self.store.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> "KnowledgeGraph":
        """Open a graph file written by :meth:`save`."""
        return cls(MemoryStore.load(path), **kwargs)
