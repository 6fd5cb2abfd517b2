"""Extraction throughput, as ratios against baselines measured in the same run.

1. rules-only ingest (chunking, spaCy parse, mentions, coreference, patterns, writing into a MemoryStore; entity
   resolution off, then on) vs spaCy's bare ``nlp.pipe`` parse of the same texts. Goal: >= 0.7x.
2. LM extraction (``LMExtractor``, constrained decoding, the bundled model) with all sentences batched through
   the engine vs one sentence at a time (same prompts, same greedy outputs).

Texts: the first ``--texts`` / ``--lm-texts`` items of an extraction JSONL file (default WebNLG dev from
``../shared/data``); items with a ``relations`` field use it as their schema.

Usage: python benchmarks/extraction.py [--file F] [--texts 400] [--lm-texts 12] [--threads N] [--skip-lm]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_FILE = ROOT.parent / "shared" / "data" / "extraction" / "webnlg2020-dev.jsonl"


def load(path: Path, n: int) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) >= n:
                break
    return rows


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_rules(texts: list[str]) -> None:
    from kgllm.extract.chunk import chunk_document
    from kgllm.graph import KnowledgeGraph
    from kgllm.resources import get_embedder, get_nlp
    from kgllm.types import Document

    nlp = get_nlp()
    list(nlp.pipe(texts[:20]))                       # warm-up: model loaded, caches filled
    get_embedder().encode(["warm up"])
    KnowledgeGraph(resolver=None).ingest(texts[:20])
    sentences = [c.text for t in texts for c in chunk_document(Document("d", t))]
    t_pipe, _ = timed(lambda: list(nlp.pipe(texts, batch_size=64)))
    t_pipe_sent, _ = timed(lambda: list(nlp.pipe(sentences, batch_size=64)))
    t_ingest, report = timed(lambda: KnowledgeGraph(resolver=None).ingest(texts))
    t_resolved, _ = timed(lambda: KnowledgeGraph().ingest(texts))
    print(f"\n== rules-only ingest vs spaCy nlp.pipe ({len(texts)} texts, {len(sentences)} sentences) ==")
    print(f"{'run':48s} {'seconds':>8s} {'texts/s':>8s} {'ratio':>6s}")
    for name, t in (("spaCy nlp.pipe(texts) [baseline]", t_pipe), ("spaCy nlp.pipe(sentences)", t_pipe_sent),
                    ("ingest, rules, no resolution -> MemoryStore", t_ingest),
                    ("ingest, rules, entity resolution -> MemoryStore", t_resolved)):
        print(f"{name:48s} {t:8.2f} {len(texts) / t:8.1f} {t_pipe / t:6.2f}x")
    print(f"(facts extracted: {report.extracted}; ratio = baseline time / run time; goal for ingest >= 0.7x)")


def bench_lm(rows: list[dict], threads: int | None) -> None:
    from kgllm.extract.lm import LMExtractor
    from kgllm.lm import LocalLM
    from kgllm.schema import Schema
    from kgllm.types import Document

    docs = [Document(f"d{i}", r["text"], metadata={"schema": Schema.from_names(r["relations"])}
                     if r.get("relations") else {}) for i, r in enumerate(rows)]
    lm = LocalLM(threads=threads)
    LMExtractor(lm, max_new_tokens=8).extract(docs[:1])            # warm-up: model loaded
    results = {}
    for batch in (False, True):
        lm._engine = None                                            # fresh engine: no prefix cache carried over
        ex = LMExtractor(lm, batch=batch, max_new_tokens=64)
        ex._nlp = None
        LMExtractor(lm, max_new_tokens=2).extract(docs[:1])
        t, out = timed(lambda: ex.extract(docs))
        results[batch] = (t, sorted(f.id for f in out.facts))
    (t1, f1), (tb, fb) = results[False], results[True]
    print(f"\n== LM extraction: batched through the engine vs one sentence at a time ({len(docs)} texts) ==")
    print(f"{'run':40s} {'seconds':>8s} {'texts/s':>8s} {'speed-up':>8s}")
    print(f"{'one at a time [baseline]':40s} {t1:8.2f} {len(docs) / t1:8.2f} {1.0:7.2f}x")
    print(f"{'batched (engine)':40s} {tb:8.2f} {len(docs) / tb:8.2f} {t1 / tb:7.2f}x")
    print(f"(facts: {len(fb)} batched, {len(f1)} one at a time; same facts: {f1 == fb})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--texts", type=int, default=400)
    ap.add_argument("--lm-texts", type=int, default=12)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-lm", action="store_true")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = load(args.file, max(args.texts, args.lm_texts))
    bench_rules([r["text"] for r in rows[:args.texts]])
    if not args.skip_lm:
        bench_lm(rows[:args.lm_texts], args.threads)


if __name__ == "__main__":
    main()
