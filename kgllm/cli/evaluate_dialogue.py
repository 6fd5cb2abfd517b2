"""The ``eval dialogue`` command: conversations over documents, each follow-up resolved and answered as
``kgllm chat`` answers it, against the same turns asked standalone in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from kgllm.cli.common import JsonOpt, LlmKeyOpt, LlmNameOpt, LlmUrlOpt, ModelOpt, command, err, open_llm, report, run

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    command(app, "dialogue")(eval_dialogue)


def eval_dialogue(
    files: List[Path] = typer.Argument(..., help="JSONL dialogues, one a line: \"documents\" (paths relative to "
                                                 "the file, or objects with \"id\" and \"text\") and \"turns\" (each with "
                                                 "\"question\", \"answers\" ([] when the documents do not say) "
                                                 "and \"standalone\")."),
    with_llm: bool = typer.Option(False, "--llm", help="Answer with the language model too (implied by --llm-url "
                                  "or --model); default: graph and text only."),
    details: Optional[Path] = typer.Option(None, "--details", metavar="JSONL",
                                           help="Write one record per turn (resolved question, answer, the "
                                                "standalone answer, whether each is right) to this file."),
    graph_cache: Optional[Path] = typer.Option(None, "--graph-cache", metavar="DIR",
                                               help="Keep each extracted graph in DIR and reuse it on later runs."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build one graph from each dialogue's documents, ask its turns as a conversation, score them.

    Reports per-turn accuracy, follow-up accuracy, the accuracy of the same follow-ups asked as their standalone
    question (same run, same reasoner), and resolution accuracy (the resolved question against the standalone
    one, case, punctuation, possessive endings and articles ignored, and the names an earlier turn's answers list
    for one entity read as one name).
    """
    from kgllm.eval.dialogue import evaluate_dialogues

    def go() -> dict[str, Any]:
        records: list[dict[str, Any]] | None = [] if details is not None else None
        with open_llm(not (with_llm or llm_url or model), model, llm_url, llm_name, llm_key,
                      progress=err.is_terminal) as llm:
            result = evaluate_dialogues(files, llm=llm, progress=err.is_terminal, details=records,
                                        graph_cache=graph_cache)
        if details is not None and records is not None:
            details.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        return result

    result = run(go)
    report("dialogue: " + ", ".join(f.name for f in files), result, as_json)
