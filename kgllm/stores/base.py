"""The :class:`GraphStore` protocol: what every graph backend provides.

The in-memory networkx store (:class:`kgllm.stores.memory.MemoryStore`) is the
reference implementation; every other store must pass the same conformance tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ContextManager, Iterable, Iterator, Literal, Protocol, Sequence, runtime_checkable

from kgllm.stores.ledger import DocumentRecord, RunRecord
from kgllm.types import Entity, Fact, GraphDelta, Merge, Path, Subgraph

__all__ = ["GraphStore", "LedgerStore", "UpsertResult", "Direction"]

Direction = Literal["out", "in", "both"]


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """Counts of what an upsert changed (re-applying the same delta gives zeros)."""

    entities_added: int = 0
    facts_added: int = 0
    provenance_added: int = 0
    merges_applied: int = 0


@runtime_checkable
class GraphStore(Protocol):
    """A property graph of :class:`~kgllm.types.Entity` nodes and :class:`~kgllm.types.Fact` edges."""

    def upsert(self, delta: GraphDelta) -> UpsertResult:
        """Add entities, facts and merges; idempotent. Invalid deltas change nothing."""
        ...

    def get_entity(self, entity_id: str) -> Entity | None: ...

    def find_entities(self, text: str, limit: int = 10) -> list[Entity]:
        """Entities whose name or an alias matches ``text`` (exact first, then by words)."""
        ...

    def entities(self) -> Iterator[Entity]: ...

    def facts(self) -> Iterator[Fact]: ...

    def get_fact(self, fact_id: str) -> Fact | None: ...

    def neighbors(self, entity_id: str, direction: Direction = "both") -> list[Fact]:
        """Facts that touch ``entity_id`` (as subject for ``out``, object for ``in``)."""
        ...

    def subgraph(self, seeds: Iterable[str], hops: int = 2, limit: int = 500) -> Subgraph:
        """All facts within ``hops`` of the seeds (edges walked both ways), at most ``limit``."""
        ...

    def paths(self, source: str, target: str, max_hops: int = 3, limit: int = 20) -> list[Path]:
        """Simple paths between two entities, shortest first, edges walked both ways."""
        ...

    def retract_document(self, doc_id: str) -> int:
        """Remove every provenance from ``doc_id`` (and its ledger row); facts left without one go.

        Returns the number of facts removed; raises :class:`~kgllm.errors.NotFoundError` when
        nothing in the store mentions ``doc_id``.
        """
        ...

    def merges(self) -> list[Merge]: ...

    def unmerge(self, alias: str) -> bool:
        """Undo the merge of ``alias`` (restores its own node and facts). False if none recorded."""
        ...

    def stats(self) -> dict[str, int]: ...

    def revision(self) -> int | str:
        """A token that changes whenever the store's content changes (and not on reads).

        Writes that change nothing (re-applying a delta) leave it as it is; a
        store shared between processes counts every process's writes. Caches of
        derived data (the entity linker's index) compare it to rebuild lazily.
        """
        ...

    def query(self, cypher: str, params: dict[str, Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Run a read-only Cypher query and return rows as dicts."""
        ...


@runtime_checkable
class LedgerStore(GraphStore, Protocol):
    """A :class:`GraphStore` that keeps the document ledger and run records in the same store as the facts.

    Both built-in stores are ledger stores; see :mod:`kgllm.stores.ledger` for the records.

    >>> from kgllm.stores.memory import MemoryStore
    >>> isinstance(MemoryStore(), LedgerStore)
    True
    """

    def ingest_document(self, record: DocumentRecord, delta: GraphDelta) -> UpsertResult:
        """Retract the document's previous facts, write ``delta`` and the ledger row, in one transaction."""
        ...

    def ingest_documents(self, records: Sequence[DocumentRecord], delta: GraphDelta) -> UpsertResult:
        """:meth:`ingest_document` for several documents whose facts are in one delta."""
        ...

    def document(self, doc_id: str) -> DocumentRecord | None: ...

    def documents(self) -> list[DocumentRecord]: ...

    def begin_run(self, job: str) -> RunRecord: ...

    def end_run(self, run: RunRecord) -> None: ...

    def runs(self, job: str | None = None, limit: int = 50) -> list[RunRecord]: ...

    def lock(self, name: str, timeout: float = 0.0) -> ContextManager[None]:
        """A context manager holding the cross-process lock ``name``; StoreError after ``timeout`` seconds."""
        ...
