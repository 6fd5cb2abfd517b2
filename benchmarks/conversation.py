"""Conversation turns vs the same questions asked standalone, graph only; prints per-turn latency and the ratio.

Every follow-up turn of the dialogues (``tests/dialogues/*.jsonl`` by default) is timed twice in the same run,
on the same graph: as a turn of a :class:`kgllm.Conversation` (resolution against the earlier turns, the answer,
the turn's entities recorded) and as its ``standalone`` question through :meth:`Reasoner.ask` (the baseline).
Each arm has its own graph-only reasoner. Both arms are measured with the question cold and the graph warm: an
untimed pass first asks everything once (the documents' sentence embeddings are then cached for both), and
before each timed question the embeddings that turn added in either arm (its words, its resolved or standalone
question), and the parse cache, are dropped -- in both arms alike. The arms alternate dialogue by dialogue (which goes first alternates too).

Usage: python benchmarks/conversation.py [--graph-cache DIR] [--repeat 1] [FILES...]
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from kgllm.conversation import Conversation  # noqa: E402
from kgllm.eval.dialogue import dialogue_documents, read_dialogues  # noqa: E402
from kgllm.eval.textqa import build_graph, graph_key  # noqa: E402
from kgllm.reason.analysis import parse  # noqa: E402
from kgllm.reason.reasoner import Reasoner  # noqa: E402
from kgllm.resources import get_embedder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", default=sorted(glob.glob(str(ROOT / "tests" / "dialogues" / "*.jsonl"))))
    ap.add_argument("--graph-cache", default=None, help="reuse extracted graphs from this folder")
    ap.add_argument("--repeat", type=int, default=1, help="timed passes (the mean of all is reported)")
    args = ap.parse_args()
    embedder = get_embedder()
    cache = embedder._cache  # noqa: SLF001 - the benchmark controls what is cached

    dialogues = read_dialogues(args.files)
    groups: dict[str, tuple[list, list]] = {}
    for d in dialogues:
        docs = dialogue_documents(d)
        groups.setdefault(graph_key(docs), (docs, []))[1].append(d)

    added: dict[str, set[str]] = {}  # turn -> embeddings either arm added when first asking it

    def timed(arm: str, turn: str, fn):
        parse.cache_clear()
        for key in added.get(turn, ()):
            cache.pop(key, None)
        before = set(cache)
        started = time.perf_counter()
        out = fn()
        took = time.perf_counter() - started
        added.setdefault(turn, set()).update(set(cache) - before)
        return out, took

    turn_s: list[float] = []
    alone_s: list[float] = []
    for docs, group in groups.values():
        graph = build_graph(docs, args.graph_cache)
        arms = {"turn": Reasoner(graph, llm=None), "standalone": Reasoner(graph, llm=None)}
        for rep in range(args.repeat + 1):  # pass 0: untimed, fills the caches
            for k, d in enumerate(group):
                order = ["turn", "standalone"] if (k + rep) % 2 == 0 else ["standalone", "turn"]
                for arm in order:
                    if arm == "turn":
                        conv = Conversation(arms["turn"])
                        for i, t in enumerate(d["turns"]):
                            _, took = timed("turn", f"{d['id']}:{i}", lambda: conv.ask(t["question"]))
                            if rep and i:
                                turn_s.append(took)
                    else:
                        for i, t in enumerate(d["turns"][1:], 1):
                            q = t.get("standalone") or t["question"]
                            _, took = timed("standalone", f"{d['id']}:{i}", lambda: arms["standalone"].ask(q))
                            if rep:
                                alone_s.append(took)
    mean_turn, mean_alone = statistics.mean(turn_s), statistics.mean(alone_s)
    result = {"followups": len(turn_s) // max(1, args.repeat), "repeat": args.repeat,
              "turn_ms": round(mean_turn * 1000, 1), "standalone_ms": round(mean_alone * 1000, 1),
              "ratio": round(mean_turn / mean_alone, 3),
              "turn_p50_ms": round(statistics.median(turn_s) * 1000, 1),
              "standalone_p50_ms": round(statistics.median(alone_s) * 1000, 1)}
    print(f"{'follow-up turns':<18}{result['followups']:>6}")
    print(f"{'conversation turn':<18}{result['turn_ms']:>9.1f} ms mean  {result['turn_p50_ms']:>9.1f} ms p50")
    print(f"{'standalone ask':<18}{result['standalone_ms']:>9.1f} ms mean  {result['standalone_p50_ms']:>9.1f} ms p50")
    print(f"{'ratio':<18}{result['ratio']:>9.3f}x (target <= 1.2x)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
