"""Graph stores: one :class:`~kgllm.stores.base.GraphStore` protocol, two backends, shared algorithms.

* :mod:`~kgllm.stores.base`: the protocol and :class:`~kgllm.stores.base.UpsertResult`;
* :mod:`~kgllm.stores.delta`: delta validation and the graph dict's fact records;
* :mod:`~kgllm.stores.merge`: entity merges and their undo, over a small graph-access interface;
* :mod:`~kgllm.stores.cypher_guard`: the parse-based read-only Cypher check;
* :mod:`~kgllm.stores.ledger`: the document ledger and run records (same store, same transaction as the facts);
* :mod:`~kgllm.stores.locks`: named cross-process locks next to a graph file;
* :mod:`~kgllm.stores.memory`: the reference store (networkx; durable on a SQLite file, or JSON graph files);
* :mod:`~kgllm.stores.neo4j`: the store on a Neo4j 5 server;
* :mod:`~kgllm.stores.migrate`: copy a whole graph between stores.
"""
