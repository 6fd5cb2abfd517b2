"""KG question answering evaluation (PathQuestion-style files).

The knowledge base is a ``subject<TAB>relation<TAB>object`` TSV; questions are
JSONL objects with ``question``, ``answers`` and optionally the gold ``path``
(``[entity, relation, entity, ...]``). The gold path is only used to score
retrieval; the retriever never sees it.

* ``hits@1``: share of questions whose answer, as :meth:`kgllm.Reasoner.ask_many` gives it
  (graph only; the entity the answer settles on), is one of the gold answers (compared by
  :func:`~kgllm.types.entity_id`).
* ``path_recall``: share of questions with a gold path whose every fact
  (consecutive triple of the path, matched in either direction) is among the
  retrieved subgraph's facts.
* ``coverage`` / ``supported_precision``: share of questions the reasoner (graph
  only) marks supported, and Hits@1 among those; ``confidence_auc``-free
  calibration is reported as ``calibration``: mean confidence and accuracy per
  confidence band.
* With ``baseline="path-embedding"``: ``baseline_hits@1`` of a naive ranker that
  embeds every 1-3 hop relation path from the question's top linked entity (its
  relation names as words, :func:`~kgllm.retrieve.question.relation_text`) with the
  same sentence embedder and answers an end entity of the path closest to the
  question (:class:`PathEmbeddingBaseline`).
"""

from __future__ import annotations

import os
from typing import Any

from kgllm.errors import ConfigError, InputError
from kgllm.loaders import iter_jsonl, read_kb_tsv
from kgllm.progress import progress as track_progress
from kgllm.retrieve.subgraph import Retriever, RetrieverConfig
from kgllm.types import Subgraph
from kgllm.stores.memory import MemoryStore
from kgllm.types import entity_id

__all__ = ["evaluate_kgqa", "read_kgqa_questions", "PathEmbeddingBaseline", "BASELINES"]

#: Baselines ``evaluate_kgqa(baseline=...)`` can measure in the same run.
BASELINES = ("path-embedding",)


def read_kgqa_questions(path: str | os.PathLike[str], limit: int | None = None) -> list[dict[str, Any]]:
    """Read and validate KGQA questions from a JSONL file.

    Parameters
    ----------
    path : path-like
        JSONL file, one object a line with a string ``question``, a non-empty
        list of strings ``answers`` and optionally ``path`` (a list of strings
        alternating entity and relation, starting and ending with an entity).
    limit : int, optional
        Read only the first ``limit`` questions.

    Returns
    -------
    list of dict
        The question objects, each with ``_line`` (its line number) added.

    Raises
    ------
    InputError
        A line is not valid JSON or a field is missing or mistyped; the message
        names the file and line.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise InputError(f"limit must be a non-negative integer or None, got {limit!r}")
    items: list[dict[str, Any]] = []
    if limit == 0:
        return items
    for lineno, obj in iter_jsonl(path):
        question = obj.get("question")
        if not isinstance(question, str) or not question.strip():
            raise InputError(f"{path}:{lineno}: expected a non-empty string field 'question'")
        answers = obj.get("answers")
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
            raise InputError(f"{path}:{lineno}: expected 'answers' as a non-empty list of non-empty strings")
        gold = obj.get("path")
        if gold is not None:
            if (not isinstance(gold, list) or len(gold) < 3 or len(gold) % 2 == 0
                    or not all(isinstance(x, str) and x.strip() for x in gold)):
                raise InputError(f"{path}:{lineno}: expected 'path' as a list of strings "
                                 "[entity, relation, entity, ...] of odd length >= 3")
        items.append({**obj, "_line": lineno})
        if limit is not None and len(items) >= limit:
            break
    return items


class PathEmbeddingBaseline:
    """The naive path ranker: the 1-3 hop relation path from the topic entity closest to the question.

    Parameters
    ----------
    store : GraphStore
        The knowledge base.
    linker : EntityLinker
        Finds the topic entity (its best link).
    embedder : Embedder
        Embeds the question and each path's text (relation words joined, hop by hop).
    max_hops : int, default 3
        Longest path.

    Examples
    --------
    >>> from kgllm.stores.memory import MemoryStore
    >>> from kgllm.types import Fact, GraphDelta
    >>> from kgllm.retrieve.link import EntityLinker
    >>> store = MemoryStore()
    >>> _ = store.upsert(GraphDelta(facts=[Fact("ada", "father", "byron"), Fact("byron", "born_in", "london")]))
    >>> class Bag:  # a bag-of-words embedder, enough for the example
    ...     def encode(self, texts):
    ...         import numpy as np
    ...         vocab = ["father", "born", "where", "in"]
    ...         v = np.array([[float(w in t.split()) for w in vocab] for t in texts]) + 1e-3
    ...         return v / np.linalg.norm(v, axis=1, keepdims=True)
    >>> PathEmbeddingBaseline(store, EntityLinker(store), Bag()).answer("where was ada 's father born in")
    'london'
    """

    def __init__(self, store: Any, linker: Any, embedder: Any, max_hops: int = 3) -> None:
        self.store, self.linker, self.embedder, self.max_hops = store, linker, embedder, max_hops
        self._vecs: dict[str, Any] = {}

    def paths(self, seed: str) -> dict[tuple[str, ...], list[str]]:
        """Every relation sequence of 1 to ``max_hops`` hops from ``seed`` (both edge directions) and its ends."""
        out: dict[tuple[str, ...], list[str]] = {}
        frontier: dict[tuple[str, ...], set[str]] = {(): {seed}}
        for _ in range(self.max_hops):
            nxt: dict[tuple[str, ...], set[str]] = {}
            for seq, ents in frontier.items():
                for e in ents:
                    for f in self.store.neighbors(e, "both"):
                        nxt.setdefault(seq + (f.relation,), set()).add(f.object if f.subject == e else f.subject)
            for seq, ents in nxt.items():
                out[seq] = sorted(ents)
            frontier = nxt
        return out

    def answer(self, question: str) -> str | None:
        """An end entity of the path closest to ``question`` (None when no entity links or no path leaves it)."""
        import numpy as np

        from kgllm.retrieve.question import relation_text

        linked = self.linker.link(question, limit=1)
        if not linked:
            return None
        paths = self.paths(linked[0].entity_id)
        if not paths:
            return None
        seqs = sorted(paths)
        texts = [" ".join(relation_text(r) for r in seq) for seq in seqs]
        new = sorted({t for t in texts if t not in self._vecs})
        if new:
            self._vecs.update(zip(new, self.embedder.encode(new)))
        q = np.asarray(self.embedder.encode([question])[0])
        sims = [float(np.dot(self._vecs[t], q)) for t in texts]
        best = max(range(len(seqs)), key=lambda i: (sims[i], -len(seqs[i])))
        return paths[seqs[best]][0]


def _calibration(rows: list[tuple[float, bool]], bands: int = 5) -> dict[str, dict[str, float]]:
    """Count, mean confidence and accuracy of the answers in each confidence band (equal-width on [0, 1]).

    >>> _calibration([(0.9, True), (0.95, False), (0.1, False)])
    {'0.0-0.2': {'n': 1, 'confidence': 0.1, 'accuracy': 0.0}, '0.8-1.0': {'n': 2, 'confidence': 0.925, 'accuracy': 0.5}}
    """
    out: dict[str, dict[str, float]] = {}
    for b in range(bands):
        lo, hi = b / bands, (b + 1) / bands
        band = [(c, ok) for c, ok in rows if lo <= c < hi or (b == bands - 1 and c >= 1.0)]
        if band:
            out[f"{lo:.1f}-{hi:.1f}"] = {"n": len(band), "confidence": round(sum(c for c, _ in band) / len(band), 3),
                                         "accuracy": round(sum(ok for _, ok in band) / len(band), 3)}
    return out


def _gold_facts(path: list[str]) -> list[tuple[str, str, str]]:
    return [(entity_id(path[i]), path[i + 1].strip(), entity_id(path[i + 2])) for i in range(0, len(path) - 2, 2)]


def evaluate_kgqa(kb_path: str | os.PathLike[str], questions_path: str | os.PathLike[str], limit: int | None = None,
                  retriever_config: RetrieverConfig | None = None, progress: bool = False,
                  store: Any = None, llm: Any = None, baseline: str | None = None) -> dict[str, Any]:
    """Hits@1 and gold-path recall of the retriever on a KGQA dev file (and of the LM's answers).

    Parameters
    ----------
    kb_path : path-like
        ``subject<TAB>relation<TAB>object`` knowledge base.
    questions_path : path-like
        JSONL questions (see :func:`read_kgqa_questions`).
    limit : int, optional
        Evaluate only the first ``limit`` questions.
    retriever_config : RetrieverConfig, optional
        Settings of the :class:`~kgllm.retrieve.subgraph.Retriever`.
    progress : bool, default False
        Show a progress bar on stderr counting the questions retrieved (the LM, when it
        shows one, counts the answers it generates).
    store : GraphStore, optional
        Where to load the KB and retrieve from (e.g. a :class:`~kgllm.stores.neo4j.Neo4jStore`);
        default a fresh in-memory store. Loading is idempotent, so a store that already
        holds the KB is fine; other facts in it take part in retrieval.
    llm : Generator or str, optional
        Also answer every question with the :class:`~kgllm.reason.reasoner.Reasoner` and this
        LM (``"auto"``: the local engine; a URL: an OpenAI-compatible server); all prompts run
        through it in one batch. Adds ``"answer_hits@1"``: how often the entity the answer
        settles on (the LM may pick among the top graph candidates) is a gold answer.

    Returns
    -------
    dict
        ``{"n": int, "hits@1": float, "path_recall": float}`` (plus ``"answer_hits@1"`` with
        ``llm``); ``path_recall`` is over the questions that carry a gold path (0.0 when none does).
        Also ``coverage`` (share of graph answers marked supported), ``supported_precision``
        (Hits@1 among them), ``calibration`` (per confidence band: count, mean confidence,
        accuracy) and ``unsupported_content`` (share of answers whose wording names an entity,
        number or date its cited facts do not hold; with ``llm`` the model's wording is checked).
        With ``baseline`` (one of :data:`BASELINES`): ``baseline`` and ``baseline_hits@1``.

    Raises
    ------
    ConfigError
        ``baseline`` is not one of :data:`BASELINES`.
    """
    if baseline is not None and baseline not in BASELINES:
        raise ConfigError(f"unknown baseline {baseline!r}: expected one of {', '.join(BASELINES)}")
    questions = read_kgqa_questions(questions_path, limit)
    store = MemoryStore() if store is None else store
    store.upsert(read_kb_tsv(kb_path))
    retriever = Retriever(store, config=retriever_config)
    recalled = 0
    with_path = 0
    retrieved: list[Subgraph] = []
    for item in track_progress(questions, "questions", enabled=progress):
        sub = retriever.retrieve(item["question"])
        retrieved.append(sub)
        if item.get("path") is not None:
            with_path += 1
            have = {(f.subject, f.relation, f.object) for f in sub.facts}
            if all((s, r, o) in have or (o, r, s) in have for s, r, o in _gold_facts(item["path"])):
                recalled += 1
    n = len(questions)
    from kgllm.reason.faithful import unsupported_claims
    from kgllm.reason.reasoner import Reasoner

    golds = [{entity_id(x) for x in q["answers"]} for q in questions]
    # The answers as users get them (Reasoner.ask_many, graph only): Hits@1 is the entity an answer settles on.
    graph_answers = Reasoner(store, llm=None, retriever=retriever).ask_many([q["question"] for q in questions],
                                                                            subgraphs=retrieved)
    hits = sum(1 for a, g in zip(graph_answers, golds) if a.entities and a.entities[0] in g)
    result: dict[str, Any] = {
        "n": n,
        "hits@1": hits / n if n else 0.0,
        "path_recall": recalled / with_path if with_path else 0.0,
    }
    rows = [(a.confidence, bool(a.entities) and a.entities[0] in g) for a, g in zip(graph_answers, golds)
            if a.supported]
    result["coverage"] = len(rows) / n if n else 0.0
    result["supported_precision"] = sum(ok for _, ok in rows) / len(rows) if rows else 0.0
    result["calibration"] = _calibration(rows)
    checked = graph_answers
    if llm is not None:
        checked = Reasoner(store, llm=llm, retriever=retriever).ask_many([q["question"] for q in questions],
                                                                         subgraphs=retrieved)
        good = sum(1 for a, g in zip(checked, golds) if a.supported and a.entities and a.entities[0] in g)
        result["answer_hits@1"] = good / n if n else 0.0
    supported = [a for a in checked if a.supported]
    result["unsupported_content"] = (sum(1 for a in supported if unsupported_claims(a.text, a.facts, a.subgraph))
                                     / len(supported) if supported else 0.0)
    if baseline is not None:
        ranker = PathEmbeddingBaseline(store, retriever.linker, retriever.embedder, retriever.config.max_hops)
        said = [ranker.answer(q["question"]) for q in track_progress(questions, "baseline", enabled=progress)]
        result["baseline"] = baseline
        result["baseline_hits@1"] = sum(1 for a, g in zip(said, golds) if a in g) / n if n else 0.0
    return result
