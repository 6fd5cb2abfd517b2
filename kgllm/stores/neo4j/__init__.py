"""Graph store on a Neo4j server (5.26 or later), with the same observable behaviour as the memory store.

* :mod:`~kgllm.stores.neo4j.connection`: driver, transactions with retries, schema, revision;
* :mod:`~kgllm.stores.neo4j.records`: the layout in the database and its rows;
* :mod:`~kgllm.stores.neo4j.writes`: upserts, merges (through :mod:`kgllm.stores.merge`
  over :mod:`~kgllm.stores.neo4j.txgraph`), retraction, migration;
* :mod:`~kgllm.stores.neo4j.reads`: entities, facts, neighbours, subgraphs, paths, statistics;
* :mod:`~kgllm.stores.neo4j.cypher`: read-only user Cypher.

The connection needs a server (see :mod:`kgllm.neo4j_server`), so only the query
rewriting is shown here:

>>> from kgllm.stores.neo4j import rewrite_cypher
>>> rewrite_cypher('MATCH (a)-[r]->(b) WHERE a.name == "Ada Lindqvist" RETURN b.name')
'MATCH (a:Entity)-[r]->(b:Entity) WHERE a.name = "Ada Lindqvist" RETURN b.name'
"""

from kgllm.stores.neo4j.cypher import rewrite_cypher
from kgllm.stores.neo4j.store import Neo4jStore

__all__ = ["Neo4jStore", "rewrite_cypher"]
