"""KG question answering evaluation (PathQuestion-style files).

The knowledge base is a ``subject<TAB>relation<TAB>object`` TSV; questions are
JSONL objects with ``question``, ``answers`` and optionally the gold ``path``
(``[entity, relation, entity, ...]``). The gold path is only used to score
retrieval; the retriever never sees it.

* ``hits@1``: share of questions whose top ranked answer (see
  :func:`kgllm.retrieve.rank.rank_answers`) is one of the gold answers
  (compared by :func:`~kgllm.types.entity_id`).
* ``path_recall``: share of questions with a gold path whose every fact
  (consecutive triple of the path, matched in either direction) is among the
  retrieved subgraph's facts.
"""

from __future__ import annotations

import os
from typing import Any

from kgllm.errors import InputError
from kgllm.loaders import iter_jsonl, read_kb_tsv
from kgllm.progress import progress as track_progress
from kgllm.retrieve.rank import rank_answers
from kgllm.retrieve.subgraph import Retriever, RetrieverConfig
from kgllm.types import Subgraph
from kgllm.stores.memory import MemoryStore
from kgllm.types import entity_id

__all__ = ["evaluate_kgqa", "read_kgqa_questions"]


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


def _gold_facts(path: list[str]) -> list[tuple[str, str, str]]:
    return [(entity_id(path[i]), path[i + 1].strip(), entity_id(path[i + 2])) for i in range(0, len(path) - 2, 2)]


def evaluate_kgqa(kb_path: str | os.PathLike[str], questions_path: str | os.PathLike[str], limit: int | None = None,
                  retriever_config: RetrieverConfig | None = None, progress: bool = False,
                  store: Any = None, llm: Any = None) -> dict[str, Any]:
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
    """
    questions = read_kgqa_questions(questions_path, limit)
    store = MemoryStore() if store is None else store
    store.upsert(read_kb_tsv(kb_path))
    retriever = Retriever(store, config=retriever_config)
    hits = 0
    recalled = 0
    with_path = 0
    retrieved: list[Subgraph] = []
    for item in track_progress(questions, "questions", enabled=progress):
        sub = retriever.retrieve(item["question"])
        retrieved.append(sub)
        ranked = rank_answers(sub)
        gold = {entity_id(a) for a in item["answers"]}
        if ranked and ranked[0][0] in gold:
            hits += 1
        if item.get("path") is not None:
            with_path += 1
            have = {(f.subject, f.relation, f.object) for f in sub.facts}
            if all((s, r, o) in have or (o, r, s) in have for s, r, o in _gold_facts(item["path"])):
                recalled += 1
    n = len(questions)
    result = {
        "n": n,
        "hits@1": hits / n if n else 0.0,
        "path_recall": recalled / with_path if with_path else 0.0,
    }
    if llm is not None:
        from kgllm.reason.reasoner import Reasoner

        answers = Reasoner(store, llm=llm, retriever=retriever).ask_many([q["question"] for q in questions],
                                                                         subgraphs=retrieved)
        good = sum(1 for a, q in zip(answers, questions)
                   if a.supported and a.entities and a.entities[0] in {entity_id(x) for x in q["answers"]})
        result["answer_hits@1"] = good / n if n else 0.0
    return result
