"""Text question answering evaluation: questions over documents, answered by :meth:`Reasoner.ask_many`.

Two ways to build the graph, as users do:

* **per item** (HotpotQA / MuSiQue files): each item's ``documents`` are ingested into a fresh
  graph (document id = title) and its question asked there;
* **corpus** (``corpus=True``, a folder of ``docs/*.txt`` with ``questions.jsonl``, or a file
  whose items share their documents, like ``../shared/data/userqa/``): **one** graph from every
  document of the file, and every question asked against it.

Questions go through :class:`~kgllm.reason.reasoner.Reasoner` (the path users call), graph
and text only, and, when a model is given, again with it. ``"answers": []`` marks a question the
documents do not answer: the right behaviour is to abstain (``supported`` false).

Reported per system: ``em`` / ``f1`` on answerable questions (SQuAD normalisation, best over the
gold answers; an answer listing several names is right when each is a gold answer),
``supported`` (share of questions answered as supported), ``precision`` (share of supported
answers that are right; a supported answer to an unanswerable question is wrong), ``abstention``
(share of unanswerable questions not claimed supported), ``safe`` (share of all questions
answered right or not claimed supported), ``ece`` (expected calibration error of
``confidence`` against being right, 5 bins). The dense baseline of the same run
(:func:`~kgllm.eval.dense.dense_answer`) answers every question from the sentence most similar
to it; per item, evidence recall@2/@5 of the graph-and-text ranking
(:class:`~kgllm.retrieve.evidence.EvidenceRetriever`) and of the dense ranking are reported too.

Examples
--------
>>> exact_match("The Eiffel Tower", ["eiffel tower"]), round(token_f1("Eiffel Tower in Paris", ["Eiffel Tower"]), 3)
(1.0, 0.667)
>>> exact_match("Ines Kobal and Rui Sola", ["Rui Sola", "Ines Kobal"]), recall_at(["a", "b", "c"], ["c", "a"], 2)
(1.0, 0.5)
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

__all__ = ["read_textqa", "read_corpus", "exact_match", "token_f1", "recall_at", "evaluate_textqa", "summary"]


def read_textqa(path: str | os.PathLike[str], limit: int | None = None,
                documents: bool = True) -> list[dict[str, Any]]:
    """Read and validate text-QA items from a JSONL file.

    Each line: ``question`` (string), ``answers`` (list of strings; empty: the documents do not
    answer it), ``documents`` (non-empty list of ``{"title", "text"}``; not needed when
    ``documents`` is False) and optionally ``supporting`` (list of titles). Each returned item
    has ``_line`` added.

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
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise InputError(f"{where}: expected 'answers' as a list of strings ([] when the documents do not "
                             "answer the question)")
        docs = obj.get("documents")
        if documents and (not isinstance(docs, list) or not docs):
            raise InputError(f"{where}: expected 'documents' as a non-empty list of {{\"title\", \"text\"}} objects")
        for i, d in enumerate(docs or []):
            if not isinstance(d, dict) or not isinstance(d.get("title"), str) or not isinstance(d.get("text"), str):
                raise InputError(f"{where}: documents[{i}] must be an object with string 'title' and 'text'")
        supporting = obj.get("supporting", [])
        if not isinstance(supporting, list) or not all(isinstance(s, str) for s in supporting):
            raise InputError(f"{where}: expected 'supporting' as a list of document titles")
        items.append({**obj, "_line": lineno})
        if limit is not None and len(items) >= limit:
            break
    return items


def read_corpus(folder: str | os.PathLike[str], limit: int | None = None) -> tuple[list[Any], list[dict[str, Any]]]:
    """A corpus folder: its documents (``docs/*.txt``, id = file name without ``.txt``) and questions
    (``questions.jsonl``: ``question`` and ``answers`` per line)."""
    from kgllm.types import Document

    root = Path(folder)
    files = sorted((root / "docs").glob("*.txt"))
    if not files:
        raise InputError(f"{root}: expected text files in {root / 'docs'}")
    if not (root / "questions.jsonl").is_file():
        raise InputError(f"{root}: expected a questions.jsonl beside docs/")
    docs = [Document(f.stem, f.read_text(encoding="utf-8"), source=str(f)) for f in files]
    return docs, read_textqa(root / "questions.jsonl", limit, documents=False)


def _parts(prediction: str) -> list[str]:
    """An answer listing names ("A and B", "A, B and C") as its parts."""
    text = prediction.replace(", and ", ", ").replace(" and ", ", ")
    return [p.strip() for p in text.split(",") if p.strip()]


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer, or lists several that all are."""
    golds = {normalize_answer(a) for a in answers}
    if normalize_answer(prediction) in golds:
        return 1.0
    parts = _parts(prediction)
    return float(len(parts) > 1 and all(normalize_answer(p) in golds for p in parts))


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


def graph_key(docs: list[Any]) -> str:
    """Key of the graph built from documents (their ids and texts, and the extractor's name).

    >>> from kgllm.types import Document
    >>> graph_key([Document("A", "B.")]) == graph_key([Document("A", "B.")])
    True
    """
    from kgllm.extract.rules import RuleExtractor

    blob = json.dumps([[d.id, d.text] for d in docs], ensure_ascii=False)
    return hashlib.sha1(f"{RuleExtractor.__name__}\x1f{blob}".encode()).hexdigest()[:20]


def build_graph(docs: list[Any], graph_cache: str | os.PathLike[str] | None = None) -> Any:
    """A fresh in-memory graph of ``docs`` (the default extractor), read from / written to ``graph_cache``."""
    from kgllm.graph import KnowledgeGraph

    cached = Path(graph_cache) / f"{graph_key(docs)}.json" if graph_cache is not None else None
    if cached is not None and cached.exists():
        return KnowledgeGraph.load(cached)
    graph = KnowledgeGraph()
    graph.ingest(docs)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        graph.save(cached)
    return graph


def _ece(confidences: list[float], correct: list[float], bins: int = 5) -> float:
    if not confidences:
        return 0.0
    conf, corr = np.array(confidences), np.array(correct)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(conf[idx == b].mean() - corr[idx == b].mean()) * (idx == b).sum()
                     for b in range(bins) if (idx == b).any()) / len(conf))


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The report of one system from per-question rows (``gold``, ``em``, ``f1``, ``supported``, ``confidence``)."""
    answerable = [r for r in rows if r["gold"]]
    unanswerable = [r for r in rows if not r["gold"]]
    claimed = [r for r in rows if r["supported"]]
    mean = lambda key, rs: sum(float(r[key]) for r in rs) / len(rs) if rs else 0.0  # noqa: E731
    return {"n": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable),
            "em": mean("em", answerable), "f1": mean("f1", answerable),
            "supported": len(claimed) / len(rows) if rows else 0.0, "precision": mean("em", claimed),
            "abstention": (sum(1 for r in unanswerable if not r["supported"]) / len(unanswerable)
                           if unanswerable else 0.0),
            "safe": sum(1 for r in rows if r["em"] or not r["supported"]) / len(rows) if rows else 0.0,
            "ece": _ece([r["confidence"] for r in rows], [r["em"] for r in rows])}


def _row(item: dict[str, Any], text: str, supported: bool, confidence: float) -> dict[str, Any]:
    gold = item["answers"]
    em = exact_match(text, gold) if gold else 0.0
    return {"gold": gold, "em": em, "f1": token_f1(text, gold) if gold else 0.0, "supported": supported,
            "confidence": confidence}


def evaluate_textqa(path: str | os.PathLike[str], limit: int | None = None, progress: bool = False,
                    llm: Any = None, details: list[dict[str, Any]] | None = None,
                    graph_cache: str | os.PathLike[str] | None = None, corpus: bool = False) -> dict[str, Any]:
    """Score kgllm's answers on a file or a corpus folder (see the module docstring).

    Parameters
    ----------
    path : path-like
        JSONL items (:func:`read_textqa`), or a corpus folder (:func:`read_corpus`, implies ``corpus``).
    limit : int, optional
        Evaluate only the first ``limit`` questions.
    progress : bool, default False
        Show progress bars on stderr.
    llm : Generator, optional
        Also answer with this model (``"kgllm+llm"`` in the result); graph and text alone always run.
    details : list, optional
        When given, one record per question (question, gold, answer, supported, reasons, citation...) is appended.
    graph_cache : path-like, optional
        Keep each graph in this folder and reuse it on the next run (extraction is the slow part).
    corpus : bool, default False
        One graph from every document of the file, every question asked against it.

    Returns
    -------
    dict
        ``{"n", "mode", "kgllm": {...}, "dense": {...}}`` plus ``"kgllm+llm"`` with a model; each system's
        report as :func:`summary` gives it (per item also ``recall@2`` / ``recall@5``).
    """
    from kgllm.eval.dense import dense_answer
    from kgllm.reason.reasoner import Reasoner
    from kgllm.resources import get_embedder
    from kgllm.retrieve.passages import passages_from_documents

    folder = Path(path).is_dir()
    if folder:
        docs, items = read_corpus(path, limit)
        corpus = True
    else:
        items = read_textqa(path, limit)
        docs = []
        if corpus:
            texts: dict[str, str] = {}
            for item in items:
                for d in _documents(item):
                    if texts.setdefault(d.id, d.text) != d.text:
                        raise InputError(f"{path}: two documents titled {d.id!r} differ: a corpus needs one text "
                                         "per title")
            from kgllm.types import Document

            docs = [Document(k, v) for k, v in texts.items()]
    systems = {"kgllm": [], "dense": []} | ({"kgllm+llm": []} if llm is not None else {})
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in systems}
    groups = [(docs, items)] if corpus else [(_documents(it), [it]) for it in items]
    embedder = get_embedder()
    for group_docs, group in track_progress(groups, "graphs", enabled=progress and not corpus):
        graph = build_graph(group_docs, graph_cache)
        passages = passages_from_documents(group_docs)
        questions = [it["question"] for it in group]
        plain = Reasoner(graph, llm=None).ask_many(questions, progress=progress and corpus)
        modelled = Reasoner(graph, llm=llm).ask_many(questions) if llm is not None else None
        for k, (item, ans) in enumerate(zip(group, plain)):
            dense, _ = dense_answer(item["question"], passages, embedder)
            rows["kgllm"].append(_row(item, ans.text, ans.supported, ans.confidence))
            rows["dense"].append(_row(item, dense, bool(dense), 0.5 if dense else 0.0))
            if modelled is not None:
                rows["kgllm+llm"].append(_row(item, modelled[k].text, modelled[k].supported, modelled[k].confidence))
            if item.get("supporting"):
                _recall(item, graph, passages, embedder, rows)
            if details is not None:
                details.append({"line": item["_line"], "id": item.get("id"), "question": item["question"],
                                "answers": item["answers"], "answer": ans.text, "supported": ans.supported,
                                "confidence": ans.confidence, "reasons": list(ans.reasons),
                                "cited": [p.sentence for p in ans.sources], "dense": dense,
                                "em": rows["kgllm"][-1]["em"],
                                "llm": modelled[k].text if modelled is not None else None})
    result: dict[str, Any] = {"n": len(items), "mode": "corpus" if corpus else "per item"}
    for name, rs in rows.items():
        result[name] = summary(rs)
        for key in ("recall@2", "recall@5"):
            if any(key in r for r in rs):
                result[name][key] = sum(r.get(key, 0.0) for r in rs) / len(rs)
    return result


def _recall(item: dict[str, Any], graph: Any, passages: list[Any], embedder: Any,
            rows: dict[str, list[dict[str, Any]]]) -> None:
    """Evidence recall@2/@5 of the graph-and-text passage ranking and of the dense ranking, for one item."""
    from kgllm.retrieve.evidence import EvidenceRetriever
    from kgllm.retrieve.passages import dense_scores

    dense = dense_scores(item["question"], passages, embedder)
    evidence = EvidenceRetriever(passages, graph.store, embedder).retrieve(item["question"], dense)
    order = [passages[j].title for j in sorted(range(len(passages)), key=lambda j: (-float(dense[j]), j))]
    titles = [p.title for p in evidence.passages]
    for name, ranked in (("kgllm", titles), ("dense", order)):
        rows[name][-1]["recall@2"] = recall_at(ranked, item["supporting"], 2)
        rows[name][-1]["recall@5"] = recall_at(ranked, item["supporting"], 5)
