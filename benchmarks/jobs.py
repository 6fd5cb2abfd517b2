"""Benchmark of graph-building jobs: ingest throughput, incremental re-runs, small writes, Ray vs local.

Ratios are measured against baselines timed in the same run:

1. **Throughput**: a job over N documents (default 2,000 WebNLG dev texts from ``../shared/data``) with the rule
   extractor, end to end into the SQLite store (scan, hash, extract, resolve, one transaction per document), in
   sentences per second, against spaCy's bare ``nlp.pipe`` parse of the same texts (the pipeline's ceiling).
   Goal >= 0.7x.
2. **Incremental re-run** after changing 1% of the documents, against the full build. Goal >= 20x faster.
3. **One small document into a 100,000-fact graph**: ``ingest_document`` on the SQLite store against the old way
   (upsert, then rewrite the whole JSON graph file).
4. **Ray executor with 2 workers** against the local executor on the same corpus (a local Ray instance; its
   start-up is reported apart).

Usage::

    PYTHONPATH=. python benchmarks/jobs.py                      # everything (minutes on 2 cores)
    PYTHONPATH=. python benchmarks/jobs.py --docs 500 --no-ray  # quicker
    PYTHONPATH=. python benchmarks/jobs.py --profile            # also where the job's time goes (cProfile)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

from kgllm.jobs import Job
from kgllm.stores.ledger import DocumentRecord, canonical_dump, content_hash
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance

DATA = Path(os.environ.get("KGLLM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def read_texts(n: int) -> list[str]:
    """The first ``n`` distinct texts of the WebNLG dev file (generated sentences when it is missing)."""
    path = DATA / "extraction" / "webnlg2020-dev.jsonl"
    texts: dict[str, None] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            texts.setdefault(json.loads(line)["text"], None)
            if len(texts) >= n + n // 50 + 1:
                break
    rng = random.Random(0)
    while len(texts) < n + n // 50 + 1:  # generated fallback (and spares for the 1% change)
        a, b = f"Person{rng.randrange(10**6)}", f"City{rng.randrange(10**4)}"
        texts.setdefault(f"{a} was born in {b}. {b} is located in Region{rng.randrange(100)}.", None)
    return list(texts)


def write_jsonl(path: Path, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": f"d{i:05d}", "text": t}) + "\n" for i, t in enumerate(texts)),
                    encoding="utf-8")


def job_for(folder: Path, executor: str = "local", resolve: str = "fuzzy", store: str = "graph.sqlite") -> Job:
    spec = folder / "job.yaml"
    spec.write_text(f"name: bench\nsources:\n  - jsonl: docs.jsonl\nstore: {store}\nbatch_size: 64\n"
                    f"extractor:\n  resolve: {resolve}\nexecutor: {executor}\n", encoding="utf-8")
    return Job.from_file(spec)


def timed_run(job: Job, profile: bool = False) -> tuple[float, dict[str, int], str]:
    prof = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if prof:
        prof.enable()
    run = job.run()
    if prof:
        prof.disable()
    seconds = time.perf_counter() - start
    assert run.status == "ok", run
    report = ""
    if prof:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
        report = buf.getvalue()
    return seconds, run.counts, report


def throughput_and_incremental(n: int, profile: bool, ray: bool) -> None:
    from kgllm.resources import get_nlp

    texts = read_texts(n)
    docs, spares = texts[:n], texts[n:]
    nlp = get_nlp()
    list(nlp.pipe(docs[:50]))  # warm up
    start = time.perf_counter()
    sentences = sum(len(list(d.sents)) for d in nlp.pipe(docs, batch_size=64))
    bare = time.perf_counter() - start
    print(f"corpus: {n} documents, {sentences} sentences (spaCy's segmentation)")
    print(f"spaCy nlp.pipe parse:        {bare:7.2f} s  {sentences / bare:8.1f} sentences/s")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_jsonl(folder / "docs.jsonl", docs)
        full, counts, prof = timed_run(job_for(folder), profile)
        print(f"job (rules, fuzzy resolution, SQLite): {full:7.2f} s  {sentences / full:8.1f} sentences/s  "
              f"{counts['facts']} facts  -> {bare / full:.2f}x of the bare parse (goal >= 0.7x)")
        if prof:
            print("\nwhere the job's time goes (cProfile, cumulative):\n" + prof)
        changed = max(1, n // 100)
        rng = random.Random(1)
        edited = list(docs)
        for i, spare in zip(rng.sample(range(n), changed), spares):
            edited[i] = spare
        write_jsonl(folder / "docs.jsonl", edited)
        again, counts, _ = timed_run(job_for(folder))
        assert counts["changed"] == changed, counts
        print(f"incremental re-run, {changed} changed ({100 * changed / n:.0f}%): {again:7.2f} s  -> "
              f"{full / again:.1f}x faster than the full build (goal >= 20x)")
        unchanged, _, _ = timed_run(job_for(folder))
        print(f"re-run, nothing changed:     {unchanged:7.2f} s  (no extraction)")

        write_jsonl(folder / "docs.jsonl", docs)
        bare_job, _, _ = timed_run(job_for(folder, resolve="none", store="plain.sqlite"))
        print(f"job without resolution:      {bare_job:7.2f} s  {sentences / bare_job:8.1f} sentences/s  "
              f"-> {bare / bare_job:.2f}x of the bare parse")
        if ray:
            local_dump = _dump(folder / "plain.sqlite")
            import ray as ray_mod

            start = time.perf_counter()
            ray_mod.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            startup = time.perf_counter() - start
            ray_run, _, _ = timed_run(job_for(folder, executor="{kind: ray, workers: 2}", resolve="none",
                                              store="ray.sqlite"))
            ray_mod.shutdown()
            same = _dump(folder / "ray.sqlite") == local_dump
            print(f"ray executor, 2 workers:     {ray_run:7.2f} s  (+{startup:.1f} s Ray start-up) vs local "
                  f"{bare_job:.2f} s -> {bare_job / ray_run:.2f}x; same graph as local: {same}")


def _dump(path: Path) -> str:
    store = MemoryStore.open(path)
    try:
        return canonical_dump(store)
    finally:
        store.close()


def small_write(n_facts: int) -> None:
    rng = random.Random(0)
    n_entities = n_facts // 4
    entities = [Entity(f"entity {i}", f"Entity {i}") for i in range(n_entities)]
    facts = [Fact(f"entity {rng.randrange(n_entities)}", f"relation_{rng.randrange(20)}",
                  f"entity {rng.randrange(n_entities)}", 1.0, (Provenance(f"doc{i // 50}", i % 50),))
             for i in range(n_facts)]
    big = GraphDelta(entities=entities, facts=facts)

    def small(k: int) -> tuple[DocumentRecord, GraphDelta]:
        doc = f"small{k}"
        delta = GraphDelta(entities=[Entity(f"new {k}", f"New {k}")],
                           facts=[Fact(f"new {k}", "related_to", f"entity {j}", 1.0, (Provenance(doc, 0),))
                                  for j in range(3)])
        return DocumentRecord(doc, f"{doc}.txt", content_hash(doc)), delta

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = MemoryStore.open(folder / "g.sqlite", create=True)
        store.upsert(big)
        sqlite_times = []
        for k in range(5):
            record, delta = small(k)
            start = time.perf_counter()
            store.ingest_document(record, delta)
            sqlite_times.append(time.perf_counter() - start)
        store.close()
        mem = MemoryStore()
        mem.upsert(big)
        mem.save(folder / "g.json")
        json_times = []
        for k in range(3):
            record, delta = small(k)
            start = time.perf_counter()
            mem.ingest_document(record, delta)
            mem.save(folder / "g.json")
            json_times.append(time.perf_counter() - start)
    s, j = sorted(sqlite_times)[len(sqlite_times) // 2], sorted(json_times)[len(json_times) // 2]
    print(f"one small document into a {n_facts:,}-fact graph: SQLite store {s * 1000:.1f} ms, whole-file JSON "
          f"rewrite {j * 1000:.0f} ms -> {j / s:.0f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="documents in the corpus (default 2000)")
    parser.add_argument("--facts", type=int, default=100_000, help="facts in the graph of the small-write test")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray comparison")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the full job run")
    args = parser.parse_args(argv)
    throughput_and_incremental(args.docs, args.profile, not args.no_ray)
    small_write(args.facts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
