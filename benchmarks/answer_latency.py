"""Latency of a graph-only answer in process (Reasoner.ask, llm=None), against retrieval alone in the same run.

Two graphs of about a thousand facts:

* a knowledge base: the PathQuestion 2-hop KB (../shared/data/kgqa/PQ-2H-kb.tsv, 1,211 facts), asked its dev
  questions (no document text: answers come from relation paths);
* a graph built from text: every corpus of tests/corpora/ and ../shared/data/userqa/ ingested together, asked
  their questions (answers read off the documents' sentences and the graph's facts).

Each question is asked once to warm the caches (the first question about a document parses it), then timed
``--rounds`` times; the baseline is :meth:`Retriever.retrieve` of the same question (the relation-path walk
every answer used to be). Printed: median and p90 per graph, the ratio of the medians, and whether the median
is under the 100 ms goal.

    PYTHONPATH=. python benchmarks/answer_latency.py [--limit 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("KGLLM_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _timed(fn, questions, rounds):
    times = []
    for q in questions:
        fn(q)  # warm
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - t)
    return times


def _report(name, facts, answer, retrieve):
    med_a, med_r = statistics.median(answer), statistics.median(retrieve)
    p90 = sorted(answer)[int(0.9 * (len(answer) - 1))]
    print(f"{name:28} {facts:6d} facts  answer p50 {1000 * med_a:7.1f} ms  p90 {1000 * p90:7.1f} ms  "
          f"retrieve p50 {1000 * med_r:6.1f} ms  ratio {med_a / med_r:5.2f}x  "
          f"goal <100 ms: {'met' if med_a < 0.1 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200, help="questions per graph")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import kgllm
    from kgllm.eval.textqa import read_corpus
    from kgllm.types import Document

    kb = kgllm.KnowledgeGraph()
    kb.import_kb(DATA / "kgqa" / "PQ-2H-kb.tsv")
    questions = [json.loads(line)["question"] for line in open(DATA / "kgqa" / "PQ-2H-dev.jsonl")][: args.limit]
    reasoner = kgllm.Reasoner(kb, llm=None)
    answer = _timed(reasoner.ask, questions, args.rounds)
    retrieve = _timed(reasoner.retriever.retrieve, questions, args.rounds)
    _report("knowledge base (PQ-2H)", kb.stats()["facts"], answer, retrieve)

    text = kgllm.KnowledgeGraph()
    docs, asked = [], []
    for folder in sorted(glob.glob(str(ROOT / "tests" / "corpora" / "*"))):
        if Path(folder).is_dir():
            found, items = read_corpus(folder)
            docs += [Document(f"{Path(folder).name}/{d.id}", d.text) for d in found]
            asked += [it["question"] for it in items]
    userqa = DATA / "userqa" / "userqa-dev.jsonl"
    if userqa.exists():
        items = [json.loads(line) for line in open(userqa)]
        docs += [Document(f"userqa/{t}", x) for t, x in {d["title"]: d["text"] for it in items
                                                          for d in it["documents"]}.items()]
        asked += [it["question"] for it in items]
    text.ingest(docs)
    reasoner = kgllm.Reasoner(text, llm=None)
    asked = asked[: args.limit]
    answer = _timed(reasoner.ask, asked, args.rounds)
    retrieve = _timed(reasoner.retriever.retrieve, asked, args.rounds)
    _report("text (corpora + userqa)", text.stats()["facts"], answer, retrieve)


if __name__ == "__main__":
    main()
