"""The :class:`Neo4jStore` class, assembled from its reads, writes and queries."""

from __future__ import annotations

from kgllm.stores.neo4j.cypher import Queries
from kgllm.stores.neo4j.indexes import IndexReads
from kgllm.stores.neo4j.ledger import LedgerWrites
from kgllm.stores.neo4j.reads import Reads

__all__ = ["Neo4jStore"]


class Neo4jStore(Reads, IndexReads, LedgerWrites, Queries):
    """A :class:`~kgllm.stores.base.GraphStore` on a Neo4j 5 server, over Bolt.

    Behaves like :class:`~kgllm.stores.memory.MemoryStore` (upsert idempotency,
    provenance merging, merges with undo, retraction, searches, traversals,
    statistics, read-only Cypher, the document ledger, runs and locks; name lookups, degrees and relation counts
    from the server's indexes, see :class:`~kgllm.stores.neo4j.indexes.IndexReads`). Orders that the memory store leaves to
    insertion order (``entities()``, ``facts()``, ``neighbors()``) are unspecified here.
    Make one with :meth:`connect` (the constructor does no I/O); see
    :class:`~kgllm.stores.neo4j.connection.Connection` for the parameters.

    Examples
    --------
    Needs a server (``kgllm neo4j start``), so not run here::

        store = Neo4jStore.connect("bolt://127.0.0.1:7687", auth=("neo4j", "secret-pw"))
        store.upsert(delta)
        store.close()
    """
