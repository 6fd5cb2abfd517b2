"""Text -> graph -> answer evaluation (CLUTRR-style relation questions).

Each item is a short story, a question such as "How is Mira related to
Omar?", the gold answers (a relation word) and the gold triples. For every
story kgllm builds a fresh graph from the text alone, links the question's two
entities, and answers with :meth:`kgllm.reason.reasoner.Reasoner.relation`.
Extraction is scored against the gold triples with the same scorer as
:mod:`kgllm.eval.extraction`.
"""

from __future__ import annotations

import os
from typing import Any

from kgllm.errors import InputError
from kgllm.eval.extraction import score_triples
from kgllm.graph import KnowledgeGraph
from kgllm.loaders import iter_jsonl
from kgllm.lm import Generator, resolve_llm
from kgllm.progress import progress as track_progress
from kgllm.reason.relations import RelationPlan, finish_relation_plans, relation_plan
from kgllm.retrieve.link import EntityLinker
from kgllm.types import Document, entity_id

__all__ = ["evaluate_textgraph"]


def _validate(path: os.PathLike[str] | str, lineno: int, obj: dict[str, Any]) -> None:
    for key in ("text", "question"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise InputError(f"{path}:{lineno}: expected a non-empty string field {key!r}")
    answers = obj.get("answers")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise InputError(f"{path}:{lineno}: expected 'answers' as a non-empty list of strings")
    triples = obj.get("triples", [])
    if not isinstance(triples, list) or not all(isinstance(t, list) and len(t) == 3 for t in triples):
        raise InputError(f"{path}:{lineno}: expected 'triples' as a list of [subject, relation, object]")


def evaluate_textgraph(path: os.PathLike[str] | str, limit: int | None = None, progress: bool = False,
                       llm: Generator | str | None = "auto") -> dict[str, Any]:
    """Accuracy of relation answers and extraction P/R/F1 over a textgraph JSONL file.

    Graphs are built story by story; the LM prompts of all stories then run through ``llm``
    (default: the local batched engine; or an OpenAI-compatible server URL; ``None``: answer from
    the graph alone) in one batch. ``progress`` shows a bar counting stories (the unit the
    accuracy counts; the extractor's own per-sentence bar stays off); the LM, when it shows
    one, counts the prompts it answers.
    Returns ``{"n", "accuracy", "extraction": {"strict": {...}, "relaxed": {...}}}``.
    """
    items = []
    for lineno, obj in iter_jsonl(path):
        _validate(path, lineno, obj)
        items.append((lineno, obj))
        if limit is not None and len(items) >= limit:
            break
    model = resolve_llm(llm)
    plans: list[tuple[RelationPlan, dict[str, Any]]] = []
    counts: dict[str, list[int]] = {"strict": [0, 0, 0], "relaxed": [0, 0, 0]}
    for lineno, obj in track_progress(items, "stories", enabled=progress):
        kg = KnowledgeGraph()
        kg.ingest([Document(f"{obj.get('id', 'story')}:{lineno}", obj["text"])])
        names = {e.id: e.name for e in kg.store.entities()}
        predicted = [(names.get(f.subject, f.subject), f.relation, names.get(f.object, f.object))
                     for f in kg.store.facts()]
        gold = [tuple(t) for t in obj.get("triples", [])]
        for mode, c in score_triples(predicted, gold).items():
            for i, v in enumerate(c):
                counts[mode][i] += v
        links = EntityLinker(kg.store).link(obj["question"], limit=2)
        if len(links) == 2:
            # "How is A related to B?": A is the answer relation of B.
            a, b = sorted(links, key=lambda x: obj["question"].find(x.mention))
            plans.append((relation_plan(kg.store, model, b.entity_id, a.entity_id, obj["question"]), obj))
    answers = finish_relation_plans([p for p, _ in plans], model)
    correct = sum(1 for answer, (_, obj) in zip(answers, plans)
                  if answer.supported and entity_id(answer.text) in {entity_id(x) for x in obj["answers"]})
    n = len(items)
    return {"n": n, "accuracy": correct / n if n else 0.0,
            "extraction": {mode: _prf(*c) for mode, c in counts.items()}}


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
