"""The ``eval textqa`` command: questions over documents, answered as ``kgllm ask`` answers them, against a dense
baseline measured in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from kgllm.cli.common import (JsonOpt, LimitOpt, LlmKeyOpt, LlmNameOpt, LlmUrlOpt, ModelOpt, command, err, open_llm,
                              report, run)

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    command(app, "textqa")(eval_textqa)


def eval_textqa(
    file: Path = typer.Argument(..., help="JSONL, one question a line with \"question\", its \"answers\" ([] when "
                                          "the documents do not answer it), the \"documents\" (a list of objects "
                                          "with \"title\" and \"text\") and optionally the \"supporting\" titles; "
                                          "or a corpus folder: docs/*.txt and questions.jsonl."),
    limit: Optional[int] = LimitOpt,
    corpus: bool = typer.Option(False, "--corpus", help="Build one graph from every document of the file and ask "
                                "every question against it (as a user with one collection does; implied for a "
                                "folder); default: a fresh graph per question."),
    with_llm: bool = typer.Option(False, "--llm", help="Also answer with the language model (implied by --llm-url "
                                  "or --model) and report both; default: graph and text only."),
    baseline: str = typer.Option("dense", "--baseline", metavar="KIND",
                                 help="Reference measured in the same run: 'dense' (the answer span of the "
                                      "sentences most similar to the question; the only kind)."),
    details: Optional[Path] = typer.Option(None, "--details", metavar="JSONL",
                                           help="Write one record per question (answer, citation, ranked "
                                                "sources, why unsupported) to this file."),
    graph_cache: Optional[Path] = typer.Option(None, "--graph-cache", metavar="DIR",
                                               help="Keep each question's extracted graph in DIR and reuse it "
                                                    "on later runs (extraction is the slow part); clear DIR "
                                                    "after changing the extractor."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build a graph from the documents, ask every question through the reasoner, score the answers.

    Reports, for kgllm (and with a model, kgllm+llm) and the dense baseline of the same run: exact match and token
    F1 on answerable questions, the share of answers claimed supported and their precision (a supported answer to
    a question the documents do not answer is wrong), abstention on unanswerable questions, "safe" (right or not
    claimed), calibration error of the confidence, and per question graph the evidence recall@2/@5.
    """
    from kgllm.errors import InputError
    from kgllm.eval.textqa import evaluate_textqa

    def go() -> dict[str, Any]:
        if baseline != "dense":
            raise InputError(f"--baseline {baseline!r}: the only baseline is 'dense'")
        records: list[dict[str, Any]] | None = [] if details is not None else None
        with open_llm(not (with_llm or llm_url or model), model, llm_url, llm_name, llm_key,
                      progress=err.is_terminal) as llm:
            result = evaluate_textqa(file, limit=limit, progress=err.is_terminal, llm=llm, details=records,
                                     graph_cache=graph_cache, corpus=corpus)
        if details is not None and records is not None:
            details.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        return result

    result = run(go)
    report(f"textqa: {file.name}", result, as_json)
