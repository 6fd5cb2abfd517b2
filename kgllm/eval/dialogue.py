"""Dialogue evaluation: conversations over documents, each turn asked through :class:`~kgllm.conversation.Conversation`.

A dialogue file is JSONL, one conversation a line (see ``tests/dialogues/README.md``)::

    {"id": "business-d1", "documents": ["../corpora/business/docs"],
     "turns": [{"question": "Who is the chief executive of Lumora?", "answers": ["Marit Jansma"],
                "standalone": "Who is the chief executive of Lumora?"},
               {"question": "Since when has she been chief executive?", "answers": ["2017"],
                "standalone": "Since when has Marit Jansma been chief executive?"}]}

``documents`` are files or folders (``*.txt``; relative to the dialogue file, or absolute) or inline objects
``{"id", "text"}``. One graph is built from a dialogue's documents, as ``kgllm eval textqa`` builds a corpus
graph (:func:`kgllm.eval.textqa.build_graph`, the default extractor, the same cache); dialogues naming the same
documents share it.

Reported: ``turn_accuracy`` (every turn asked in the conversation), ``followup_accuracy`` (the turns after the
first), ``standalone_accuracy`` (the same follow-up turns asked as their ``standalone`` question, in the same
run, with the same reasoner: the reference), ``resolution_accuracy`` (share of follow-ups whose
``resolved_question`` equals ``standalone`` after :func:`~kgllm.conversation.normalise_question`: case,
punctuation, possessive endings and articles ignored, and the alternative names an earlier turn's ``answers``
list for one entity read as the same name). A turn is right as a text-QA question is
(:func:`kgllm.eval.textqa.exact_match` against ``answers``); a turn whose ``answers`` is ``[]`` is right when
the answer is not claimed supported.

Examples
--------
>>> turn_correct("Marit Jansma", True, ["Marit Jansma"]), turn_correct("The text does not say", False, [])
(True, True)
>>> turn_correct("Oslo", True, [])
False
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

from kgllm.errors import InputError
from kgllm.loaders import iter_jsonl

__all__ = ["read_dialogues", "dialogue_documents", "turn_correct", "evaluate_dialogues"]


def read_dialogues(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Read and validate dialogues (one object a line: ``documents``, ``turns``); each gets ``_file`` and ``_line``.

    Raises
    ------
    InputError
        A line is not valid JSON or a field is missing or mistyped; the message names the file and line.
    """
    out: list[dict[str, Any]] = []
    for path in paths:
        for lineno, obj in iter_jsonl(path):
            where = f"{path}:{lineno}"
            docs = obj.get("documents")
            if not isinstance(docs, list) or not docs:
                raise InputError(f"{where}: expected 'documents' as a non-empty list of paths or {{\"id\", \"text\"}}")
            turns = obj.get("turns")
            if not isinstance(turns, list) or not turns:
                raise InputError(f"{where}: expected 'turns' as a non-empty list")
            for i, t in enumerate(turns):
                if not isinstance(t, dict) or not isinstance(t.get("question"), str) or not t["question"].strip():
                    raise InputError(f"{where}: turns[{i}] needs a non-empty string 'question'")
                if not isinstance(t.get("answers"), list) or not all(isinstance(a, str) for a in t["answers"]):
                    raise InputError(f"{where}: turns[{i}]: expected 'answers' as a list of strings ([] when the "
                                     "documents do not say)")
                if not isinstance(t.get("standalone", t["question"]), str):
                    raise InputError(f"{where}: turns[{i}]: 'standalone' must be a string")
            out.append({**obj, "_file": str(path), "_line": lineno})
    return out


def dialogue_documents(dialogue: dict[str, Any]) -> list[Any]:
    """The documents of a dialogue (file name without ``.txt`` as id; inline ones keep theirs)."""
    from kgllm.types import Document

    base = Path(dialogue.get("_file", ".")).parent
    docs: dict[str, Any] = {}
    for d in dialogue["documents"]:
        if isinstance(d, dict):
            if not isinstance(d.get("text"), str):
                raise InputError(f"{dialogue.get('_file')}:{dialogue.get('_line')}: an inline document needs 'text'")
            doc_id = str(d.get("id") or d.get("title") or f"doc{len(docs) + 1}")
            docs[doc_id] = Document(doc_id, d["text"])
            continue
        path = Path(d) if Path(d).is_absolute() else base / d
        files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
        for f in files:
            if not f.is_file():
                raise InputError(f"{dialogue.get('_file')}:{dialogue.get('_line')}: no document {f}")
            docs[f.stem] = Document(f.stem, f.read_text(encoding="utf-8"), source=str(f))
    return list(docs.values())


def turn_correct(text: str, supported: bool, answers: list[str]) -> bool:
    """Whether a turn's answer is right: it matches a gold answer, or abstains when there is none."""
    from kgllm.eval.textqa import exact_match

    if not answers:
        return not supported
    return bool(supported and exact_match(text, answers))


def _rate(values: list[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def evaluate_dialogues(paths: Iterable[str | os.PathLike[str]], llm: Any = None, progress: bool = False,
                       details: list[dict[str, Any]] | None = None,
                       graph_cache: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Score conversations (see the module docstring). ``details``: one record per turn is appended."""
    from kgllm.conversation import Conversation, normalise_question
    from kgllm.eval.textqa import build_graph, graph_key
    from kgllm.progress import progress as track_progress
    from kgllm.reason.reasoner import Reasoner

    dialogues = read_dialogues(paths)
    groups: dict[str, tuple[list[Any], list[dict[str, Any]]]] = {}
    for d in dialogues:
        docs = dialogue_documents(d)
        groups.setdefault(graph_key(docs), (docs, []))[1].append(d)
    turns: list[bool] = []
    follow: list[bool] = []
    alone: list[bool] = []
    resolved: list[bool] = []
    seconds = {"turn": 0.0, "standalone": 0.0}
    for docs, group in track_progress(list(groups.values()), "graphs", enabled=progress):
        graph = build_graph(docs, graph_cache)
        reasoner = Reasoner(graph, llm=llm)
        for d in group:
            conv = Conversation(reasoner)
            names: list[list[str]] = []
            for k, t in enumerate(d["turns"]):
                started = time.perf_counter()
                ans = conv.ask(t["question"])
                seconds["turn"] += time.perf_counter() - started
                right = turn_correct(ans.text, ans.supported, t["answers"])
                turns.append(right)
                record: dict[str, Any] = {"id": d.get("id"), "turn": k, "question": t["question"],
                                          "resolved": ans.resolved_question, "unresolved": list(ans.unresolved),
                                          "answers": t["answers"], "answer": ans.text, "supported": ans.supported,
                                          "correct": right}
                if k:
                    standalone = t.get("standalone") or t["question"]
                    started = time.perf_counter()
                    ref = reasoner.ask(standalone)
                    seconds["standalone"] += time.perf_counter() - started
                    ok = turn_correct(ref.text, ref.supported, t["answers"])
                    same = normalise_question(ans.resolved_question or "", names, reasoner.retriever.linker) == \
                        normalise_question(standalone, names, reasoner.retriever.linker)
                    follow.append(right)
                    alone.append(ok)
                    resolved.append(same)
                    record.update(standalone=standalone, standalone_answer=ref.text, standalone_correct=ok,
                                  resolution_correct=same)
                if len(t["answers"]) > 1:
                    names.append(list(t["answers"]))
                if details is not None:
                    details.append(record)
    return {"dialogues": len(dialogues), "graphs": len(groups), "turns": len(turns), "followups": len(follow),
            "turn_accuracy": _rate(turns), "followup_accuracy": _rate(follow),
            "standalone_accuracy": _rate(alone), "resolution_accuracy": _rate(resolved),
            "mean_turn_seconds": seconds["turn"] / len(turns) if turns else 0.0,
            "mean_standalone_seconds": seconds["standalone"] / len(alone) if alone else 0.0}


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2)
