"""The ``eval textqa`` command (issue 10): text QA with graph-and-text evidence, against dense retrieval."""

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
    file: Path = typer.Argument(..., help="JSONL, one question a line with \"question\", its \"answers\", the "
                                          "\"documents\" (a list of objects with \"title\" and \"text\") and the \"supporting\" titles."),
    limit: Optional[int] = LimitOpt,
    with_llm: bool = typer.Option(False, "--llm", help="Let the LM choose the answer among the evidence's "
                                  "candidates (implied by --llm-url or --model); default: graph and text only."),
    baseline: str = typer.Option("dense", "--baseline", metavar="KIND",
                                 help="Reference measured in the same run: 'dense' (MiniLM ranking of the "
                                      "passages, answered the same way; the only kind)."),
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
    """Index each question's documents into a fresh graph, retrieve evidence, answer; score against dense retrieval.

    Reports exact match and token F1, supporting-document recall@2/@5 of the ranked evidence, the share of
    answers marked supported (coverage) with their accuracy, and the calibration error of the confidence,
    for kgllm and for the dense baseline of the same run.
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
                                          graph_cache=graph_cache)
        if details is not None and records is not None:
            details.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        return result

    result = run(go)
    report(f"textqa: {file.name}", result, as_json)
