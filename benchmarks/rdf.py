"""RDF import benchmark: a generated N-Triples file into the memory store, peak memory, throughput, SPARQL latency.

Usage::

    python benchmarks/rdf.py                 # 1,000,000 triples (the README figure)
    python benchmarks/rdf.py --triples 100000 --sparql-triples 100000

Steps, each in a fresh child process so that its peak memory (``ru_maxrss``) is its own:

1. generate an N-Triples file of ``--triples`` statements (entities with ``rdfs:label`` and ``rdf:type``, facts
   between them over 40 relations, every tenth fact's object a year literal);
2. baseline ``parse-only``: kgllm's line parser over the whole file, no store (the floor for a streaming import);
3. ``kgllm import``: :func:`kgllm.rdf.import_rdf` of the whole file into a :class:`MemoryStore` (two passes:
   check, then write) -- its peak memory must stay under 1.5 GB;
4. baseline ``rdflib parse``: rdflib's own ``Graph.parse`` of a second generated file of ``--sparql-triples``
   statements (same shape; rdflib holding a million triples would need more memory than the import is allowed);
5. SPARQL (CPU time per query, best of 3): the same queries on that second graph, once over rdflib's parsed
   graph (baseline) and once over the
   kgllm store it was imported into, exported to rdflib (:func:`kgllm.rdf.sparql.store_dataset`).

Rates are given per wall-clock second and per CPU second of the child (the CPU figure is the one to compare on a
busy machine). It prints the ratios to the baselines measured in the same run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MB = 1536

QUERIES = {
    "one hop by label": 'SELECT ?o WHERE { ?s rdfs:label "Entity 17" ; ?p ?o }',
    "two hops": 'SELECT ?c WHERE { ?a rdfs:label "Entity 17" ; ?p ?b . ?b ?q ?c . FILTER(isIRI(?c)) }',
    "ask": 'ASK { ?s rdfs:label "Entity 23" }',
    "count a relation": "SELECT (COUNT(*) AS ?n) WHERE { ?s <https://bench.example/relation/r7> ?o }",
}


def generate(path: Path, triples: int, seed: int = 7) -> None:
    """Write ``triples`` N-Triples statements: a fifth describe entities (label, type), the rest are facts."""
    sys.path.insert(0, str(ROOT))
    from kgllm.rdf.terms import RDF, RDFS, XSD, Lit, format_quad

    rng = random.Random(seed)
    base = "https://bench.example/"
    n_entities = max(10, triples // 10)
    written = 0
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(format_quad(base, RDF + "type", "https://kgllm.example/vocab#Export") + "\n")
        written += 1
        for i in range(n_entities):
            if written + 2 > triples:
                break
            node = f"{base}entity/e{i}"
            fh.write(format_quad(node, RDFS + "label", Lit(f"Entity {i}")) + "\n")
            fh.write(format_quad(node, RDF + "type", f"{base}type/T{i % 12}") + "\n")
            written += 2
        while written < triples:
            s = f"{base}entity/e{rng.randrange(n_entities)}"
            p = f"{base}relation/r{rng.randrange(40)}"
            o = (Lit(str(rng.randrange(1800, 2025)), XSD + "gYear") if rng.random() < 0.1
                 else f"{base}entity/e{rng.randrange(n_entities)}")
            fh.write(format_quad(s, p, o) + "\n")
            written += 1


def _child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line; add its peak memory in MB."""
    wrapper = (f"import json, resource, sys, time\nsys.path.insert(0, {str(ROOT)!r})\n{code}\n"
               "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
               "result['peak_mb'] = usage.ru_maxrss / 1024\n"
               "result['cpu_s'] = usage.ru_utime + usage.ru_stime\n"
               "print(json.dumps(result))\n")
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--sparql-triples", type=int, default=200_000,
                        help="lines of the file rdflib parses and SPARQL runs on")
    parser.add_argument("--keep", type=Path, default=None, help="write the generated file here and keep it")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kgllm-rdf-bench-"))
    path = args.keep or tmp / "bench.nt"
    t = time.perf_counter()
    generate(path, args.triples)
    print(f"generated {args.triples:,} triples ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")
    prefix = tmp / "small.nt"
    generate(prefix, args.sparql_triples)

    parse = _child(f"""
from kgllm.rdf.terms import parse_line
t = time.perf_counter(); n = 0
with open({str(path)!r}, 'rb') as fh:
    for i, raw in enumerate(fh, 1):
        n += parse_line(raw.decode('utf-8'), 'f', i) is not None
result = {{'seconds': time.perf_counter() - t, 'triples': n}}
usage = resource.getrusage(resource.RUSAGE_SELF); result['parse_cpu_s'] = usage.ru_utime + usage.ru_stime""")
    imp = _child(f"""
from kgllm.rdf import import_rdf
from kgllm.stores.memory import MemoryStore
store = MemoryStore(); t = time.perf_counter()
u0 = resource.getrusage(resource.RUSAGE_SELF); u0 = u0.ru_utime + u0.ru_stime
report = import_rdf(store, {str(path)!r})
u1 = resource.getrusage(resource.RUSAGE_SELF); cpu = u1.ru_utime + u1.ru_stime - u0
result = {{'seconds': time.perf_counter() - t, 'triples': report.statements, 'stats': store.stats(),
          'work_cpu_s': cpu}}""")
    queries = json.dumps(QUERIES)
    timing = """
def timed(ds, q):
    best = None
    for _ in range(3):
        t = time.process_time(); rows = list(ds.query(q, initNs=NS)); dt = time.process_time() - t
        best = dt if best is None else min(best, dt)
    return best, len(rows)
NS = {'rdfs': 'http://www.w3.org/2000/01/rdf-schema#'}
"""
    base = _child(f"""{timing}
from rdflib import Graph
g = Graph(); t = time.perf_counter()
u0 = resource.getrusage(resource.RUSAGE_SELF); u0 = u0.ru_utime + u0.ru_stime
g.parse({str(prefix)!r}, format='nt'); parse_s = time.perf_counter() - t
u1 = resource.getrusage(resource.RUSAGE_SELF); cpu = u1.ru_utime + u1.ru_stime - u0
result = {{'seconds': parse_s, 'work_cpu_s': cpu, 'triples': len(g),
          'queries': {{k: timed(g, q) for k, q in {queries}.items()}}}}""")
    ours = _child(f"""{timing}
from kgllm.rdf import import_rdf
from kgllm.rdf.sparql import store_dataset
from kgllm.stores.memory import MemoryStore
store = MemoryStore(); import_rdf(store, {str(prefix)!r})
t = time.perf_counter(); ds = store_dataset(store, 'https://bench.example/'); build_s = time.perf_counter() - t
result = {{'seconds': build_s, 'queries': {{k: timed(ds, q) for k, q in {queries}.items()}}}}""")

    rate = lambda r: r["triples"] / r["seconds"]  # noqa: E731
    cpu_rate = lambda r, key: r["triples"] / r[key]  # noqa: E731
    p_cpu, i_cpu, b_cpu = (cpu_rate(parse, "parse_cpu_s"), cpu_rate(imp, "work_cpu_s"),
                           cpu_rate(base, "work_cpu_s"))
    print(f"\nbaseline parse-only (kgllm line parser, no store): {rate(parse):,.0f} triples/s wall, "
          f"{p_cpu:,.0f} per CPU second, peak {parse['peak_mb']:.0f} MB")
    print(f"kgllm import into MemoryStore: {imp['triples']:,} triples in {imp['seconds']:.1f}s wall "
          f"({imp['work_cpu_s']:.1f}s CPU) = {rate(imp):,.0f} triples/s wall, {i_cpu:,.0f} per CPU second "
          f"({i_cpu / p_cpu:.2f}x parse-only), peak memory {imp['peak_mb']:.0f} MB "
          f"(limit {LIMIT_MB} MB: {'OK' if imp['peak_mb'] < LIMIT_MB else 'OVER'}); store: {imp['stats']}")
    print(f"baseline rdflib Graph.parse of a {base['triples']:,}-triple file: {rate(base):,.0f} triples/s wall, "
          f"{b_cpu:,.0f} per CPU second, peak {base['peak_mb']:.0f} MB; kgllm import / rdflib parse "
          f"(per CPU second): {i_cpu / b_cpu:.2f}x")
    print(f"\nSPARQL on the {args.sparql_triples:,}-triple graph (CPU ms, best of 3; kgllm: store exported to "
          f"rdflib in {ours['seconds']:.1f}s, peak {ours['peak_mb']:.0f} MB)")
    for name in QUERIES:
        b, o = base["queries"][name], ours["queries"][name]
        print(f"  {name:18s} rdflib graph {b[0] * 1000:8.1f} ms ({b[1]} rows) | kgllm store {o[0] * 1000:8.1f} ms "
              f"({o[1]} rows) | ratio {o[0] / b[0]:.2f}x")


if __name__ == "__main__":
    main()
