"""Text question answering evaluation (HotpotQA / MuSiQue-style files).

Each item's ``documents`` are indexed into a fresh graph (the rule extractor; each
document's id is its title), evidence is retrieved from the graph and the text together
(:class:`~kgllm.retrieve.evidence.EvidenceRetriever`) and an answer is composed and judged
(:func:`~kgllm.reason.textanswer.answer_from_evidence`). ``supporting`` is read only to
score retrieval. Every result also carries the dense baseline measured in the same run:
the passages ranked by MiniLM similarity to the question, answered the same way.

Reported: ``em`` / ``f1`` (SQuAD normalisation, best over the gold answers),
``recall@2`` / ``recall@5`` (share of an item's supporting documents among the first 2 / 5
ranked evidence sources, averaged), ``supported`` (coverage: share of answers marked
supported), ``supported_em`` / ``supported_f1`` (accuracy among those), ``ece``
(expected calibration error of ``confidence`` against exact match, 5 equal-width bins).

Examples
--------
>>> exact_match("The Eiffel Tower", ["eiffel tower"]), round(token_f1("Eiffel Tower in Paris", ["Eiffel Tower"]), 3)
(1.0, 0.667)
>>> recall_at(["a", "b", "c"], ["c", "a"], 2)
0.5
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from kgllm.errors import InputError
from kgllm.loaders import iter_jsonl
from kgllm.progress import progress as track_progress
from kgllm.reason.support import normalize_answer

__all__ = ["read_textqa", "exact_match", "token_f1", "recall_at", "evaluate_textqa", "answer_item"]


def read_textqa(path: str | os.PathLike[str], limit: int | None = None) -> list[dict[str, Any]]:
    """Read and validate text-QA items from a JSONL file.

    Each line: ``question`` (string), ``answers`` (non-empty list of strings),
    ``documents`` (non-empty list of ``{"title", "text"}``) and optionally ``supporting``
    (list of titles). Each returned item has ``_line`` added.

    Raises
    ------
    InputError
        A line is not valid JSON or a field is missing or mistyped; the message names the file and line.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise InputError(f"limit must be a non-negative integer or None, got {limit!r}")
    items: list[dict[str, Any]] = []
    if limit == 0:
        return items
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        question = obj.get("question")
        if not isinstance(question, str) or not question.strip():
            raise InputError(f"{where}: expected a non-empty string field 'question'")
        answers = obj.get("answers")
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            raise InputError(f"{where}: expected 'answers' as a non-empty list of strings")
        docs = obj.get("documents")
        if not isinstance(docs, list) or not docs:
            raise InputError(f"{where}: expected 'documents' as a non-empty list of {{\"title\", \"text\"}} objects")
        for i, d in enumerate(docs):
            if not isinstance(d, dict) or not isinstance(d.get("title"), str) or not isinstance(d.get("text"), str):
                raise InputError(f"{where}: documents[{i}] must be an object with string 'title' and 'text'")
        supporting = obj.get("supporting", [])
        if not isinstance(supporting, list) or not all(isinstance(s, str) for s in supporting):
            raise InputError(f"{where}: expected 'supporting' as a list of document titles")
        items.append({**obj, "_line": lineno})
        if limit is not None and len(items) >= limit:
            break
    return items


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Iterable[str]) -> float:
    """Best SQuAD token F1 of the prediction against the gold answers."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for a in answers:
        gold = normalize_answer(a).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            p, r = common / len(pred), common / len(gold)
            best = max(best, 2 * p * r / (p + r))
        elif not pred and not gold:
            best = 1.0
    return best


def recall_at(ranked: list[str], supporting: Iterable[str], k: int) -> float:
    """Share of the (distinct) supporting sources among the first ``k`` ranked ones."""
    gold = set(supporting)
    return len(gold & set(ranked[:k])) / len(gold) if gold else 0.0


def _documents(item: dict[str, Any]) -> list[Any]:
    """The item's documents with the title as id (a repeated title gets `` (2)``, ...)."""
    from kgllm.types import Document

    docs, seen = [], Counter()
    for d in item["documents"]:
        if not d["text"].strip():
            continue
        seen[d["title"]] += 1
        doc_id = d["title"] if seen[d["title"]] == 1 else f"{d['title']} ({seen[d['title']]})"
        docs.append(Document(doc_id, d["text"], metadata={"title": d["title"]}))
    if not docs:
        raise InputError(f"line {item.get('_line', '?')}: every document has empty text")
    return docs


def graph_key(item: dict[str, Any]) -> str:
    """Key of the graph built from an item's documents (their titles and texts; the extractor's name).

    >>> graph_key({"documents": [{"title": "A", "text": "B."}]}) == graph_key({"documents": [{"title": "A", "text": "B."}]})
    True
    """
    from kgllm.extract.rules import RuleExtractor

    blob = json.dumps([[d["title"], d["text"]] for d in item["documents"]], ensure_ascii=False)
    return hashlib.sha1(f"{RuleExtractor.__name__}\x1f{blob}".encode()).hexdigest()[:20]


def _index(item: dict[str, Any], docs: list[Any], graph_cache: str | os.PathLike[str] | None) -> Any:
    """A fresh graph of the item's documents (rule extractor), read from / written to ``graph_cache``."""
    from kgllm.graph import KnowledgeGraph

    cached = Path(graph_cache) / f"{graph_key(item)}.json" if graph_cache is not None else None
    if cached is not None and cached.exists():
        return KnowledgeGraph.load(cached).store
    graph = KnowledgeGraph()
    graph.ingest(docs)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        graph.save(cached)
    return graph.store


def answer_item(item: dict[str, Any], embedder: Any = None, store: Any = None,
                graph_cache: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Index one item's documents into a fresh graph, retrieve, answer; kgllm and the dense baseline.

    ``store``: a graph already built from exactly these documents (not indexed again);
    ``graph_cache``: a folder where each item's graph is kept (keyed by :func:`graph_key`) and reused.
    """
    from kgllm.reason.textanswer import answer_from_evidence
    from kgllm.retrieve.evidence import Evidence, EvidenceRetriever
    from kgllm.retrieve.passages import dense_scores, passages_from_documents

    if embedder is None:
        from kgllm.resources import get_embedder

        embedder = get_embedder()
    docs = _documents(item)
    if store is None:
        store = _index(item, docs, graph_cache)
    passages = passages_from_documents(docs)
    question = item["question"]
    dense = dense_scores(question, passages, embedder)
    evidence = EvidenceRetriever(passages, store, embedder).retrieve(question, dense)
    order = sorted(range(len(passages)), key=lambda j: (-float(dense[j]), j))
    baseline = Evidence(question, [passages[j] for j in order], [float(dense[j]) for j in order],
                        seeds=evidence.seeds)
    return {"evidence": evidence, "baseline": baseline, "store": store,
            "answer": answer_from_evidence(question, evidence, store, embedder),
            "baseline_answer": answer_from_evidence(question, baseline, store, embedder)}


def _ece(confidences: list[float], correct: list[float], bins: int = 5) -> float:
    if not confidences:
        return 0.0
    conf, corr = np.array(confidences), np.array(correct)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(conf[idx == b].mean() - corr[idx == b].mean()) * (idx == b).sum()
                     for b in range(bins) if (idx == b).any()) / len(conf))


def evaluate_textqa(path: str | os.PathLike[str], limit: int | None = None, progress: bool = False,
                    llm: Any = None, details: list[dict[str, Any]] | None = None,
                    graph_cache: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Score kgllm's text-QA evidence and answers on a file, with the dense baseline of the same run.

    Parameters
    ----------
    path : path-like
        JSONL items (see :func:`read_textqa`).
    limit : int, optional
        Evaluate only the first ``limit`` items.
    progress : bool, default False
        Show a progress bar on stderr.
    llm : Generator, optional
        Let the LM choose the answer among the evidence's candidates (see
        :func:`kgllm.reason.textanswer.choose_with_llm`); default graph-and-text only.
    details : list, optional
        When given, one record per item (question, gold, answer, ranked sources...) is appended.
    graph_cache : path-like, optional
        Keep each item's graph in this folder and reuse it on the next run (extraction is the
        slow part; the graph is the same for the same documents and extractor).

    Returns
    -------
    dict
        ``{"n", "kgllm": {...}, "dense": {...}}``, each with ``em``, ``f1``, ``recall@2``,
        ``recall@5``, ``supported``, ``supported_em``, ``supported_f1``, ``ece``.
    """
    items = read_textqa(path, limit)
    rows: dict[str, list[dict[str, float]]] = {"kgllm": [], "dense": []}
    outputs = []
    for item in track_progress(items, "questions", enabled=progress):
        outputs.append((item, answer_item(item, graph_cache=graph_cache)))
    if llm is not None and outputs:
        from kgllm.reason.textanswer import choose_with_llm

        chosen = choose_with_llm(llm, [(o["answer"], o["evidence"]) for _, o in outputs])
        for (_, o), ans in zip(outputs, chosen):
            o["answer"] = ans
    for item, out in outputs:
        gold, support = item["answers"], item.get("supporting", [])
        for name, ev, ans in (("kgllm", out["evidence"], out["answer"]),
                              ("dense", out["baseline"], out["baseline_answer"])):
            ranked = list(dict.fromkeys(ev.ranked_sources()
                                        + [p.doc_id for f in ev.facts for p in f.provenance]))
            titles = [p.title for p in ev.passages]
            rows[name].append({"em": exact_match(ans.text, gold), "f1": token_f1(ans.text, gold),
                               "recall@2": recall_at(titles, support, 2), "recall@5": recall_at(titles, support, 5),
                               "supported": float(ans.supported), "confidence": ans.confidence})
            if details is not None and name == "kgllm":
                details.append({"line": item["_line"], "id": item.get("id"), "question": item["question"],
                                "answers": gold, "answer": ans.text, "supported": ans.supported,
                                "confidence": ans.confidence, "reasons": list(ans.reasons),
                                "sentence": ans.sentence, "doc_id": ans.doc_id, "candidates": ans.candidates,
                                "supporting": sorted(set(support)), "ranked": ranked[:5],
                                "dense_ranked": out["baseline"].ranked_sources()[:5],
                                "seeds": out["evidence"].seeds, "em": rows[name][-1]["em"],
                                "f1": rows[name][-1]["f1"], "recall@5": rows[name][-1]["recall@5"]})
    return {"n": len(items), **{name: _summary(r) for name, r in rows.items()}}


def _summary(rows: list[dict[str, float]]) -> dict[str, float]:
    n = len(rows)
    if not n:
        return {k: 0.0 for k in ("em", "f1", "recall@2", "recall@5", "supported", "supported_em", "supported_f1",
                                 "ece")}
    sup = [r for r in rows if r["supported"]]
    mean = lambda key, rs: sum(r[key] for r in rs) / len(rs) if rs else 0.0  # noqa: E731
    return {"em": mean("em", rows), "f1": mean("f1", rows), "recall@2": mean("recall@2", rows),
            "recall@5": mean("recall@5", rows), "supported": len(sup) / n, "supported_em": mean("em", sup),
            "supported_f1": mean("f1", sup),
            "ece": _ece([r["confidence"] for r in rows], [r["em"] for r in rows])}
