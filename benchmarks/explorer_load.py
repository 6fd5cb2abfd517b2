"""Load test of the graph explorer (``kgllm serve``) on loopback: many concurrent clients, fixed time.

Builds a generated graph of at least 100,000 facts (invented people, organisations and places, each fact
with a source sentence; ``--kb`` adds facts of TSV knowledge bases), serves it with ``kgllm serve`` in a
separate process, then runs two phases with the same number of concurrent clients (httpx, one event
loop, keep-alive connections):

1. baseline: ``GET /health`` (no graph access) for ``--baseline-seconds``;
2. mixed: entity search, neighbours, read-only Cypher and graph-only questions (``/api/ask``) for
   ``--seconds``.

The two phases alternate in ``--rounds`` slices, so that both meet the same load from other programs.

Prints requests/s and p50/p95/p99 latency of both phases and per endpoint, the ratios mixed/baseline,
and the number of errors (any non-200 answer or failed connection; the run exits 1 if there are any).

    python benchmarks/explorer_load.py                     # 200 clients, 20 s, 100,000 facts
    python benchmarks/explorer_load.py --clients 50 --seconds 5 --facts 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    store = MemoryStore()
    delta, people = generate(n_facts)
    store.upsert(delta)
    for kb in kbs:
        store.upsert(read_kb_tsv(kb))
    store.save(path)
    return people, store.stats()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def run_phase(url: str, clients: int, seconds: float, pick) -> dict:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        async def client(i: int) -> None:
            rng = random.Random(i)
            while time.monotonic() < stop:
                kind, method, path, kwargs = pick(rng)
                started = time.perf_counter()
                try:
                    r = await http.request(method, path, **kwargs)
                    ok = r.status_code == 200
                    if not ok:
                        errors.append(f"{kind} {r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(f"{kind} {type(exc).__name__}: {exc}")
                if ok:
                    latencies[kind].append(time.perf_counter() - started)

        began = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.monotonic() - began
    every = [x for v in latencies.values() for x in v]
    return {"requests": len(every), "rps": len(every) / elapsed, "errors": errors, "elapsed": elapsed,
            "all": every, "by_kind": dict(latencies)}


def _empty() -> dict:
    return {"all": [], "by_kind": defaultdict(list), "errors": [], "elapsed": 0.0}


def _merge(total: dict, part: dict) -> None:
    total["all"] += part["all"]
    total["errors"] += part["errors"]
    total["elapsed"] += part["elapsed"]
    for kind, values in part["by_kind"].items():
        total["by_kind"][kind] += values


def _row(name: str, values: list[float], seconds: float) -> str:
    return (f"{name:<12} {len(values):>8} {len(values) / seconds:>9.1f} {percentile(values, 50) * 1000:>9.1f}"
            f" {percentile(values, 95) * 1000:>9.1f} {percentile(values, 99) * 1000:>9.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the mixed phase")
    ap.add_argument("--baseline-seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=4, help="baseline and mixed alternate this many times")
    ap.add_argument("--facts", type=int, default=100_000, help="generated facts (at least)")
    ap.add_argument("--kb", type=Path, nargs="*", default=[], help="TSV knowledge bases to add")
    ap.add_argument("--mix", default="search=40,neighbours=35,cypher=15,ask=10",
                    help="weights of the mixed phase")
    args = ap.parse_args()
    weights = {k: float(v) for k, v in (item.split("=") for item in args.mix.split(","))}

    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(tmp) / "graph.json"
        t0 = time.perf_counter()
        people, stats = build(graph, args.facts, args.kb)
        print(f"graph: {stats['facts']} facts, {stats['entities']} entities, built in {time.perf_counter() - t0:.1f} s")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        server = subprocess.Popen([sys.executable, "-m", "kgllm.cli", "serve", "--graph", str(graph), "--port", "0"],
                                  stdout=subprocess.PIPE, env=env, text=True)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip().rstrip("/")
            if not url.startswith("http"):
                print("the server did not start", file=sys.stderr)
                return 1
            ids = [p.casefold() for p in people]

            def pick(rng: random.Random):
                kind = rng.choices(list(weights), weights=list(weights.values()))[0]
                name = rng.choice(people)
                if kind == "search":
                    return kind, "GET", "/api/search", {"params": {"q": name.split()[rng.randrange(2)][:5]}}
                if kind == "neighbours":
                    return kind, "GET", "/api/neighbours", {"params": {"id": rng.choice(ids), "limit": 50}}
                if kind == "cypher":
                    return kind, "POST", "/api/query", {"json": {
                        "cypher": "MATCH (a {id: $id})-[r]->(b) RETURN r.relation, b.name", "limit": 50,
                        "params": {"id": rng.choice(ids)}}}
                return kind, "POST", "/api/ask", {"json": {"question": f"Where was {name} born?"}}

            ready = time.monotonic() + 600  # the server prepares the reasoner in the background: wait for it
            while (code := httpx.post(f"{url}/api/ask", json={"question": f"Where was {people[0]} born?"},
                                      timeout=300).status_code) != 200:
                if code not in (408, 429) or time.monotonic() > ready:
                    print(f"the reasoner did not get ready (HTTP {code})", file=sys.stderr)
                    return 1
            print(f"server ready in {time.perf_counter() - t0:.1f} s after the build began")
            # The phases alternate in rounds, so both see the same machine (other load drifts over minutes).
            base, mixed = _empty(), _empty()
            for _ in range(args.rounds):
                _merge(base, asyncio.run(run_phase(url, args.clients, args.baseline_seconds / args.rounds,
                                                   lambda rng: ("health", "GET", "/health", {}))))
                _merge(mixed, asyncio.run(run_phase(url, args.clients, args.seconds / args.rounds, pick)))
            for phase in (base, mixed):
                phase["rps"] = len(phase["all"]) / phase["elapsed"]
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\n{args.clients} concurrent clients; baseline {base['elapsed']:.1f} s, mixed {mixed['elapsed']:.1f} s")
    print(f"{'endpoint':<12} {'requests':>8} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
    print(_row("health", base["all"], base["elapsed"]))
    print(_row("mixed", mixed["all"], mixed["elapsed"]))
    for kind, values in sorted(mixed["by_kind"].items()):
        print(_row(f"  {kind}", values, mixed["elapsed"]))
    print(f"\nmixed / baseline: throughput {mixed['rps'] / base['rps']:.3f}x, "
          f"p50 latency {percentile(mixed['all'], 50) / percentile(base['all'], 50):.1f}x, "
          f"p99 latency {percentile(mixed['all'], 99) / percentile(base['all'], 99):.1f}x")
    errors = base["errors"] + mixed["errors"]
    print(f"errors: {len(errors)}")
    for line in errors[:10]:
        print("  " + line)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
