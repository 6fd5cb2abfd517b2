"""The embedded graph store: a networkx ``MultiDiGraph`` in memory, or a SQLite graph file queried in place.

* :mod:`~kgllm.stores.memory.graph`: the data in process memory (networkx graph, merge records, name indexes);
* :mod:`~kgllm.stores.memory.sqlgraph`: the same data in a SQLite file, queried where it lies;
* :mod:`~kgllm.stores.memory.store`: :class:`MemoryStore`, writes and reads over either;
* :mod:`~kgllm.stores.memory.query`: read-only Cypher through ``grand-cypher``;
* :mod:`~kgllm.stores.memory.ledger`: documents, retraction, runs and locks;
* :mod:`~kgllm.stores.memory.sqlite`, :mod:`~kgllm.stores.memory.schema`: the durable SQLite file, its
  connections and tables;
* :mod:`~kgllm.stores.memory.persist`: the JSON graph file (save, load), SQLite exports, in-place migration.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> from kgllm.types import Fact, GraphDelta, Provenance
>>> store = MemoryStore()
>>> store.upsert(GraphDelta(facts=[Fact("ada lindqvist", "born_in", "tromso", provenance=(Provenance("d1"),))]))
UpsertResult(entities_added=2, facts_added=1, provenance_added=1, merges_applied=0)
>>> [f.as_line() for f in store.neighbors("tromso")]
['ada lindqvist --born_in--> tromso']
"""

from kgllm.stores.delta import FORMAT_NAME, FORMAT_VERSION
from kgllm.stores.memory.store import MemoryStore

__all__ = ["MemoryStore", "FORMAT_NAME", "FORMAT_VERSION"]
