"""The trained extractor (issue 21): training time and model size, dev-file scores, ingest throughput, fallback.

1. Trains the relation model on the Text2KGBench training splits (DBpedia and Wikidata; ``--train-limit`` for a
   quick run), timed on this machine, and reports the model directory's size. ``--model-dir DIR --skip-train``
   reuses a model.
2. Scores it on the dev files: Text2KGBench DBpedia and Wikidata (strict micro F1, each item typed onto its own
   relations) and WebNLG (relaxed F1; its items name no relations, so the DBpedia training split's relation
   inventory is the schema). ``--baseline`` scores the rule extractor on the same items in the same run.
3. Ingest throughput: the trained extractor (each text with its schema; entity resolution off, into a
   MemoryStore) and the rule extractor, vs spaCy's bare ``nlp.pipe`` parse of the same texts, same run.
4. Plain prose without a schema: the trained extractor falls back to the rules; the graphs built from the userqa
   corpus with either are compared (same facts and entities: the question-answering figures cannot drop).

Usage: python benchmarks/trained_extraction.py [--train-limit N] [--dev-limit N] [--texts 200] [--baseline]
       [--model-dir DIR] [--skip-train] [--threads N] [--parts scores,throughput,fallback]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = ROOT.parent / "shared" / "data"
EXTRACTION = DATA / "extraction"
TRAIN = [EXTRACTION / "text2kgbench-dbpedia-train.jsonl", EXTRACTION / "text2kgbench-wikidata-train.jsonl"]
DEV = [("Text2KGBench DBpedia dev", EXTRACTION / "text2kgbench-dbpedia-dev.jsonl", "strict", None, 0.45),
       ("Text2KGBench Wikidata dev", EXTRACTION / "text2kgbench-wikidata-dev.jsonl", "strict", None, 0.40),
       ("WebNLG 2020 dev", EXTRACTION / "webnlg2020-dev.jsonl", "relaxed", TRAIN[0], 0.55)]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def train(args) -> Path:
    from kgllm.cli.train import folder_size
    from kgllm.extract.training import train_extraction

    out = Path(args.model_dir or tempfile.mkdtemp(prefix="kgllm-trained-")) / "model"
    if args.skip_train:
        print(f"\n== model: {args.model_dir} (not trained in this run) ==")
        return Path(args.model_dir)
    seconds, config = timed(lambda: train_extraction(TRAIN, out, seed=args.seed, limit=args.train_limit,
                                                     log=lambda line: print("  " + line, flush=True)))
    print(f"\n== training on {', '.join(p.name for p in TRAIN)} ==")
    print(f"examples {config['examples']}, training pairs {config['pairs']}, gold triples aligned with candidate "
          f"pairs {config['aligned']:.1%}, held-out strict F1 {config.get('holdout_f1', float('nan')):.3f} at "
          f"threshold {config['threshold']}")
    print(f"training time {seconds:.0f} s ({seconds / 60:.1f} min; goal < 15 min), model size "
          f"{folder_size(out) / 1e6:.1f} MB ({out})")
    return out


def score(model_dir: Path, args) -> None:
    from kgllm.eval.extraction import evaluate_extraction
    from kgllm.extract.trained import TrainedExtractor
    from kgllm.schema import Schema

    print(f"\n== dev files{f' (first {args.dev_limit} items)' if args.dev_limit else ''} ==")
    print(f"{'file':28s} {'metric':8s} {'trained P/R/F1':>22s} {'rules F1':>9s} {'goal':>6s} {'seconds':>8s}")
    for name, path, metric, inventory, goal in DEV:
        schema = Schema.from_file(inventory) if inventory else None
        seconds, res = timed(lambda: evaluate_extraction(path, limit=args.dev_limit, schema=schema,
                                                         extractor=TrainedExtractor(model_dir)))
        base = evaluate_extraction(path, limit=args.dev_limit, schema=schema)[metric]["f1"] if args.baseline \
            else float("nan")
        m = res[metric]
        print(f"{name:28s} {metric:8s} {m['precision']:6.3f}/{m['recall']:6.3f}/{m['f1']:6.3f}   {base:9.3f} "
              f"{goal:6.2f} {seconds:8.0f}", flush=True)


def throughput(model_dir: Path, n: int) -> None:
    from kgllm.eval.extraction import evaluate_extraction  # noqa: F401 - the same reader as the scores
    from kgllm.extract.examples import read_examples
    from kgllm.extract.rules import RuleExtractor
    from kgllm.extract.trained import TrainedExtractor
    from kgllm.graph import KnowledgeGraph
    from kgllm.resources import get_nlp
    from kgllm.schema import Schema
    from kgllm.types import Document

    items = read_examples([DEV[0][1]])[:n]
    texts = [ex.text for ex in items]
    docs = [Document(f"d{i}", ex.text, metadata={"schema": Schema.from_names(ex.relations)})
            for i, ex in enumerate(items)]
    nlp = get_nlp()
    trained = TrainedExtractor(model_dir)
    trained.extract(docs[:8])                                   # warm-up: models loaded
    KnowledgeGraph(resolver=None).ingest(texts[:8])
    t_pipe, _ = timed(lambda: list(nlp.pipe(texts, batch_size=64)))
    t_rules, _ = timed(lambda: KnowledgeGraph(extractor=RuleExtractor(), resolver=None).ingest(
        [Document(d.id, d.text) for d in docs]))
    t_trained, report = timed(lambda: KnowledgeGraph(extractor=TrainedExtractor(model_dir), resolver=None)
                              .ingest(docs))
    print(f"\n== ingest vs spaCy nlp.pipe ({n} Text2KGBench DBpedia dev texts, each with its schema) ==")
    print(f"{'run':52s} {'seconds':>8s} {'texts/s':>8s} {'ratio':>6s}")
    for name, t in (("spaCy nlp.pipe(texts) [baseline]", t_pipe), ("ingest, rules, no resolution", t_rules),
                    ("ingest, trained model, no resolution", t_trained)):
        print(f"{name:52s} {t:8.2f} {n / t:8.1f} {t_pipe / t:6.2f}x")
    print(f"(facts extracted by the trained model: {report.extracted}; goal for the trained ingest >= 0.5x)")


def fallback(model_dir: Path) -> None:
    from kgllm.extract.rules import RuleExtractor
    from kgllm.extract.trained import TrainedExtractor
    from kgllm.graph import KnowledgeGraph

    corpus = sorted((DATA / "userqa" / "corpus").glob("*.txt"))
    graphs = {}
    for name, extractor in (("rules", RuleExtractor()), ("trained", TrainedExtractor(model_dir))):
        kg = KnowledgeGraph(extractor=extractor)
        kg.ingest_files(corpus)
        graphs[name] = ({f.as_line() for f in kg.store.facts()}, {e.id for e in kg.store.entities()})
    same = graphs["rules"] == graphs["trained"]
    print(f"\n== plain prose without a schema ({len(corpus)} userqa corpus texts) ==")
    print(f"trained extractor's graph == rules' graph: {same} ({len(graphs['trained'][0])} facts, "
          f"{len(graphs['trained'][1])} entities); the answers, built on the same graph, are the same")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-limit", type=int, default=None, help="examples per training file")
    ap.add_argument("--dev-limit", type=int, default=None, help="items per dev file")
    ap.add_argument("--texts", type=int, default=200, help="texts for the throughput comparison")
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--baseline", action="store_true", help="also score the rule extractor")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--parts", default="scores,throughput,fallback",
                    help="what to run after training (comma-separated: scores, throughput, fallback)")
    args = ap.parse_args()
    if args.skip_train and not args.model_dir:
        ap.error("--skip-train needs --model-dir")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    model_dir = train(args)
    if "scores" in parts:
        score(model_dir, args)
    if "throughput" in parts:
        throughput(model_dir, args.texts)
    if "fallback" in parts:
        fallback(model_dir)


if __name__ == "__main__":
    main()
