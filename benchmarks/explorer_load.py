"""Load test of the graph explorer (``kgllm serve``) on loopback with ``wrk``, a native load generator.

Builds a generated SQLite graph file of at least 100,000 facts (invented people, organisations and
places, each fact with a source sentence; ``--kb`` adds facts of TSV knowledge bases), serves it with
``kgllm serve`` in a separate process, then loads it with ``wrk`` (``apt-get install wrk``), one endpoint
at a time for ``--seconds`` each with ``--connections`` connections: ``/health`` first (no graph access:
the baseline, in the same run), then entity search, neighbours, a read-only Cypher query pinned to one
entity, and graph-only questions. ``--rounds`` repeats the sequence so that every endpoint meets the
same load from other programs.

Prints requests/s and p50/p90/p99 latency per endpoint, each endpoint's throughput against ``/health``,
and the number of errors (non-2xx answers and socket errors; the run exits 1 if there are any).

    python benchmarks/explorer_load.py                              # 50 connections, 10 s, 100,000 facts
    python benchmarks/explorer_load.py --connections 200 --seconds 5 --facts 20000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from loadgen import Explorer, wrk  # noqa: E402

from kgllm.loaders import read_kb_tsv  # noqa: E402
from kgllm.stores.memory import MemoryStore  # noqa: E402
from kgllm.types import Entity, Fact, GraphDelta, Provenance  # noqa: E402

SYLLABLES = ["ka", "lo", "mi", "ren", "sa", "tor", "vi", "na", "el", "dra", "bo", "fen", "ga", "hil", "jo", "kus",
             "lia", "mor", "nel", "pa", "quin", "ros", "sta", "tu", "ulf", "ves", "wyn", "xa", "yor", "zel"]
PLACE_END = ["by", "holm", "stad", "vik", "dal", "berg", "ford", "mouth", "haven", "field"]
ORG_END = ["Instruments", "Labs", "Shipping", "Bank", "Foods", "Energy", "Press", "Systems", "Works", "Trust"]
TEMPLATES = {
    "born_in": "{s} was born in {o}.", "lives_in": "{s} lives in {o}.", "works_for": "{s} works for {o}.",
    "based_in": "{s} is based in {o}.", "located_in": "{s} lies in {o}.", "knows": "{s} knows {o} well.",
    "married_to": "{s} is married to {o}.", "founded": "{s} founded {o}.",
}


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def generate(n_facts: int, seed: int = 7) -> tuple[GraphDelta, list[str]]:
    """A graph of ``n_facts`` facts (people, organisations, places) and the names of its people."""
    rng = random.Random(seed)
    n_people, n_orgs, n_places = n_facts // 4, n_facts // 40, n_facts // 60
    countries = [f"{_word(rng, 2)}land" for _ in range(40)]
    places = sorted({f"{_word(rng, 2)}{rng.choice(PLACE_END)}" for _ in range(n_places)})
    orgs = sorted({f"{_word(rng, 2)} {rng.choice(ORG_END)}" for _ in range(n_orgs)})
    people = sorted({f"{_word(rng, 2)} {_word(rng, 3)}" for _ in range(n_people)})
    entities = [Entity.from_name(n, "GPE") for n in countries + places]
    entities += [Entity.from_name(n, "ORG") for n in orgs] + [Entity.from_name(n, "PERSON") for n in people]
    facts: dict[str, Fact] = {}

    def add(s: str, rel: str, o: str) -> None:
        sentence = TEMPLATES[rel].format(s=s, o=o)
        fact = Fact(Entity.from_name(s).id, rel, Entity.from_name(o).id,
                    provenance=(Provenance(f"gen-{len(facts) // 50}", len(facts) % 50, 0, len(sentence),
                                           "generated", sentence),))
        facts.setdefault(fact.id, fact)

    for p in places:
        add(p, "located_in", rng.choice(countries))
    for o in orgs:
        add(o, "based_in", rng.choice(places))
    for p in people:
        add(p, "born_in", rng.choice(places))
    while len(facts) < n_facts:
        p = rng.choice(people)
        rel = rng.choice(["lives_in", "works_for", "knows", "married_to", "founded", "knows"])
        target = rng.choice(places if rel == "lives_in" else orgs if rel in ("works_for", "founded") else people)
        if target != p:
            add(p, rel, target)
    return GraphDelta(entities=entities, facts=list(facts.values())), people


def build(path: Path, n_facts: int, kbs: list[Path]) -> tuple[list[str], dict]:
    store = MemoryStore.open(path, create=True)
    delta, people = generate(n_facts)
    store.upsert(delta)
    for kb in kbs:
        store.upsert(read_kb_tsv(kb))
    stats = store.stats()
    store.close()
    return people, stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0, help="load per endpoint and round")
    ap.add_argument("--rounds", type=int, default=1, help="times the endpoints are loaded in turn")
    ap.add_argument("--facts", type=int, default=100_000, help="generated facts (at least)")
    ap.add_argument("--kb", type=Path, nargs="*", default=[], help="TSV knowledge bases to add")
    ap.add_argument("--graph", type=Path, help="serve this graph file instead of a generated one")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        graph = args.graph
        rng = random.Random(3)
        if graph is None:
            graph = Path(tmp) / "graph.sqlite"
            t0 = time.perf_counter()
            people, stats = build(graph, args.facts, args.kb)
            print(f"graph: {stats['facts']} facts, {stats['entities']} entities, built in "
                  f"{time.perf_counter() - t0:.1f} s")
        else:
            people = [e.name for e, _ in MemoryStore.open(graph).top_degrees(200) if e.type == "PERSON"] or ["x y"]
        sample = rng.sample(people, min(200, len(people)))
        endpoints = {
            "health": (["/health"], None),
            "search": ([f"/api/search?q={quote(p.split()[rng.randrange(2)][:5])}" for p in sample], None),
            "neighbours": ([f"/api/neighbours?id={quote(p.casefold())}&limit=50" for p in sample], None),
            "cypher": (["/api/query"] * len(sample), [json.dumps({
                "cypher": "MATCH (a {id: $id})-[r]->(b) RETURN r.relation, b.name", "limit": 50,
                "params": {"id": p.casefold()}}) for p in sample]),
            "ask": (["/api/ask"] * len(sample), [json.dumps({"question": f"Where was {p} born?"}) for p in sample]),
        }
        results: dict[str, list[dict]] = {k: [] for k in endpoints}
        with Explorer(graph, warm=[f"Where was {sample[0]} born?"]) as url:
            for _ in range(args.rounds):
                for name, (paths, bodies) in endpoints.items():
                    results[name].append(wrk(url, paths, args.connections, args.seconds, bodies=bodies,
                                             timeout_s=120))
    print(f"\n{args.connections} connections (wrk), {args.seconds:g} s per endpoint and round, {args.rounds} round(s)")
    print(f"{'endpoint':<12} {'requests':>9} {'req/s':>9} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'/health':>8}")
    base = sum(r["requests_per_s"] for r in results["health"]) / args.rounds
    errors = 0
    for name, runs in results.items():
        rps = sum(r["requests_per_s"] for r in runs) / len(runs)
        p = {k: max(r[k] or 0 for r in runs) for k in ("p50_ms", "p90_ms", "p99_ms")}
        errors += sum(r["errors"] for r in runs)
        print(f"{name:<12} {sum(r['requests'] for r in runs):>9} {rps:>9.1f} {p['p50_ms']:>9.1f} {p['p90_ms']:>9.1f} "
              f"{p['p99_ms']:>9.1f} {rps / base:>7.3f}x")
    print(f"errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
