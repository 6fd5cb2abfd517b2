"""Benchmark of the Neo4j store: bulk loading and traversal latency against the memory store.

Measures, on synthetic data:

1. Bulk load of N facts (default 100,000) with :meth:`Neo4jStore.upsert` (batched
   ``UNWIND ... MERGE`` transactions) against the naive way, one ``MERGE`` statement
   and transaction per fact, timed on a sample (default 5,000 facts) and scaled to N.
2. p50/p95 latency of k-hop :meth:`subgraph` (k = 1, 2, 3) and 3-hop :meth:`paths`
   queries on Neo4j and on the in-memory store, and their ratio.

Usage::

    PYTHONPATH=. python benchmarks/neo4j_store.py                 # starts a local server (Java + Maven)
    PYTHONPATH=. python benchmarks/neo4j_store.py --facts 20000 --sample 2000 --queries 30
    PYTHONPATH=. python benchmarks/neo4j_store.py --uri bolt://127.0.0.1:7687 --user neo4j --password ...

The database at ``--uri`` is cleared first.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from contextlib import ExitStack

from kgllm.stores.memory import MemoryStore
from kgllm.stores.neo4j import Neo4jStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance


def synthetic(n_facts: int, seed: int = 0) -> GraphDelta:
    """A random graph of ``n_facts`` facts over ``n_facts / 4`` entities, 20 relations, one source each."""
    rng = random.Random(seed)
    n_entities = max(n_facts // 4, 10)
    relations = [f"relation_{i}" for i in range(20)]
    entities = [Entity(f"entity {i}", f"Entity {i}", rng.choice(["PERSON", "GPE", "ORG"])) for i in range(n_entities)]
    facts = []
    for i in range(n_facts):
        s, o = rng.randrange(n_entities), rng.randrange(n_entities)
        p = Provenance(f"doc{i // 50}", i % 50, 0, 60, "bench", f"Entity {s} is related to Entity {o}.")
        facts.append(Fact(f"entity {s}", rng.choice(relations), f"entity {o}", round(rng.uniform(0.5, 1), 3), (p,)))
    return GraphDelta(entities=entities, facts=facts)


NAIVE = ("MERGE (s:Entity {id: $s}) ON CREATE SET s.name = $s, s.type = '', s.aliases = [], s.search = $s "
         "MERGE (o:Entity {id: $o}) ON CREATE SET o.name = $o, o.type = '', o.aliases = [], o.search = $o "
         "MERGE (s)-[r:$($r)]->(o) "
         "SET r.id = $id, r.relation = $r, r.confidence = $c, r.pkeys = $keys, r.prov = $prov, r.pdocs = $docs")


def naive_load(store: Neo4jStore, facts: list[Fact]) -> float:
    """One MERGE statement, in its own transaction, per fact; returns seconds."""
    import json

    start = time.perf_counter()
    with store._driver.session(database=store.database) as session:
        for f in facts:
            p = f.provenance[0]
            session.run(NAIVE, s=f.subject, o=f.object, r=f.relation, id=f.id, c=f.confidence,
                        keys=[json.dumps(list(p.key()))], prov=[json.dumps(p.to_dict())], docs=[p.doc_id]).consume()
    return time.perf_counter() - start


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return p50, p95


def time_calls(fn, args_list) -> list[float]:
    out = []
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--facts", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=5_000, help="facts loaded the naive way (then scaled)")
    ap.add_argument("--queries", type=int, default=50, help="queries per kind")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--uri", help="an existing server (cleared!); default start a local one")
    ap.add_argument("--user", default="neo4j")
    ap.add_argument("--password")
    args = ap.parse_args(argv)

    with ExitStack() as stack:
        if args.uri:
            uri, auth = args.uri, ((args.user, args.password) if args.password else None)
        else:
            from kgllm.neo4j_server import Neo4jServer

            print("starting a local Neo4j server ...", file=sys.stderr)
            server = stack.enter_context(Neo4jServer())
            uri, auth = server.uri, server.auth
        store = stack.enter_context(Neo4jStore.connect(uri, auth=auth, batch_size=args.batch_size))
        delta = synthetic(args.facts)

        # ---- naive: one MERGE per fact, on a sample
        store.clear()
        sample = delta.facts[:args.sample]
        naive_s = naive_load(store, sample)
        naive_scaled = naive_s * args.facts / len(sample)

        # ---- batched UNWIND upsert of everything
        store.clear()
        t = time.perf_counter()
        result = store.upsert(delta)
        batched_s = time.perf_counter() - t
        memory = MemoryStore()
        t = time.perf_counter()
        memory.upsert(delta)
        memory_s = time.perf_counter() - t
        assert store.stats() == memory.stats(), (store.stats(), memory.stats())

        print(f"\nBulk load of {args.facts:,} facts ({result.entities_added:,} entities), batch {args.batch_size}")
        print(f"  batched UNWIND upsert : {batched_s:8.1f} s  ({args.facts / batched_s:,.0f} facts/s)")
        print(f"  naive MERGE per fact  : {naive_scaled:8.1f} s  (measured {naive_s:.1f} s on {len(sample):,}, "
              f"{len(sample) / naive_s:,.0f} facts/s, scaled)")
        print(f"  speed-up              : {naive_scaled / batched_s:8.1f}x  (goal >= 20x)")
        print(f"  memory store upsert   : {memory_s:8.1f} s")

        # ---- traversal latency
        rng = random.Random(1)
        n_entities = len(delta.entities)
        seeds = [[f"entity {rng.randrange(n_entities)}"] for _ in range(args.queries)]
        pairs = [(f"entity {rng.randrange(n_entities)}", f"entity {rng.randrange(n_entities)}")
                 for _ in range(args.queries)]
        rows = []
        kinds = [(f"subgraph {k}-hop (limit 500)", lambda s, k=k: s.subgraph, lambda a, k=k: (a, k, 500))
                 for k in (1, 2, 3)]
        for label, method, make in kinds:
            neo = time_calls(method(store), [make(sd) for sd in seeds[:3]])  # warm-up (plans, caches)
            neo = time_calls(method(store), [make(sd) for sd in seeds])
            mem = time_calls(method(memory), [make(sd) for sd in seeds])
            rows.append((label, percentiles(neo), percentiles(mem)))
        time_calls(lambda a, b: store.paths(a, b, max_hops=3, limit=20), pairs[:3])
        neo = time_calls(lambda a, b: store.paths(a, b, max_hops=3, limit=20), pairs)
        mem = time_calls(lambda a, b: memory.paths(a, b, max_hops=3, limit=20), pairs)
        rows.append(("paths max 3 hops (limit 20)", percentiles(neo), percentiles(mem)))

        print(f"\nQuery latency in ms over {args.queries} random seeds ({args.facts:,} facts)")
        print(f"  {'query':<30} {'neo4j p50':>10} {'neo4j p95':>10} {'memory p50':>11} {'memory p95':>11} "
              f"{'ratio p50':>10} {'ratio p95':>10}")
        for label, (n50, n95), (m50, m95) in rows:
            print(f"  {label:<30} {n50:10.2f} {n95:10.2f} {m50:11.2f} {m95:11.2f} "
                  f"{n50 / max(m50, 1e-6):9.1f}x {n95 / max(m95, 1e-6):9.1f}x")
        print("  (ratio = Neo4j time / memory time; Neo4j pays a Bolt round trip per query and per hop level)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
