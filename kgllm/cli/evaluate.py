"""Evaluation commands: ``eval extraction``, ``eval kgqa``, ``eval textgraph``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Optional

import typer

from kgllm.cli import evaluate_dialogue, evaluate_textqa
from kgllm.cli.common import (JsonOpt, LimitOpt, LlmKeyOpt, LlmNameOpt, LlmUrlOpt, ModelOpt, PasswordOpt, StoreSpec,
                              UriOpt, UserOpt, command, err, new_app, open_llm, open_store, report, run)

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to ``app``."""
    eval_app = new_app("Measure extraction, KG question answering and text-to-graph-to-answer on dataset files.")
    command(eval_app, "extraction")(eval_extraction)
    command(eval_app, "kgqa")(eval_kgqa)
    command(eval_app, "textgraph")(eval_textgraph)
    evaluate_textqa.register(eval_app)
    evaluate_dialogue.register(eval_app)
    app.add_typer(eval_app, name="eval")


def eval_extraction(
    file: Path = typer.Argument(..., help="JSONL, one object per line with the text (\"text\") and its gold "
                                          "subject-relation-object triples (\"triples\")."),
    limit: Optional[int] = LimitOpt,
    no_schema: bool = typer.Option(False, "--no-schema", help="Score the raw relation phrases, ignoring the items' "
                                                              "\"relations\"."),
    canonicalize: bool = typer.Option(False, "--canonicalize", help="Join near-identical relation spellings in "
                                      "the items scored without \"relations\" (the file read as one ingest)."),
    mode: str = typer.Option("rules", "--mode", metavar="MODE",
                             help="Extractor: 'rules' (spaCy patterns), 'lm' (the language model under constrained "
                                  "decoding), 'hybrid' (both) or 'trained' (a relation model from kgllm train "
                                  "extraction; needs --model-dir)."),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", metavar="DIR",
                                             help="Trained mode: the model directory kgllm train extraction wrote."),
    schema: Optional[Path] = typer.Option(None, "--schema", metavar="FILE",
                                          help="Relations for the items without \"relations\" (a schema file, or "
                                               "an extraction JSONL file whose items' relations are joined)."),
    show: int = typer.Option(25, "--relations", metavar="N", help="Relations listed in the per-relation table "
                                                                  "(most gold triples first; --json lists all)."),
    task: str = typer.Option("generate", "--task", metavar="TASK",
                             help="What the model does in lm/hybrid mode: 'generate' (writes the facts), 'verify' "
                                  "(chooses a relation, or none, for each of the rules' candidates) or 'both' "
                                  "(hybrid only)."),
    demos: Optional[Path] = typer.Option(None, "--demos", metavar="FILE",
                                         help="Solved examples (extraction JSONL); the most similar go into each "
                                              "prompt (an item's own text is never shown to it)."),
    k_demos: int = typer.Option(1, "--k-demos", metavar="N", help="Demonstrations per prompt."),
    union: bool = typer.Option(False, "--union", help="Hybrid: keep all of the model's facts (default: only for "
                                                   "sentences where the rules found none)."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Score an extractor against gold triples: strict and relaxed micro precision, recall and F1.

    Items with a "relations" field (the allowed relation names) have their facts typed onto those relations first,
    unless --no-schema is given; in lm and hybrid mode the model is constrained to them.
    """
    from kgllm.eval.extraction import evaluate_extraction
    from kgllm.extract.lm import MODES, make_extractor

    if mode not in MODES:
        raise typer.BadParameter(f"expected one of {', '.join(MODES)}, got {mode!r}", param_hint="--mode")
    if (mode == "trained") != (model_dir is not None):
        raise typer.BadParameter("--model-dir goes with --mode trained, and --mode trained needs it",
                                 param_hint="--model-dir")
    if task not in ("generate", "verify", "both"):
        raise typer.BadParameter(f"expected generate, verify or both, got {task!r}", param_hint="--task")

    def go() -> dict[str, Any]:
        from kgllm.extract.demos import DemoBank
        from kgllm.schema import Schema

        bank = DemoBank.from_file(demos) if demos is not None else None
        inventory = Schema.from_file(schema) if schema is not None else None
        with open_llm(mode in ("rules", "trained"), model, llm_url, llm_name, llm_key,
                      progress=err.is_terminal) as llm:
            if mode == "trained":
                chosen = {"extractor": make_extractor(mode, model_dir=model_dir)}
            else:
                chosen = {} if mode == "rules" else {"extractor": make_extractor(
                    mode, llm=llm, task=task, demos=bank, k_demos=k_demos, fallback=not union)}
            if inventory is not None:
                chosen["schema"] = inventory
            return evaluate_extraction(file, limit=limit, progress=err.is_terminal, use_schema=not no_schema,
                                       canonicalize=canonicalize, **chosen)

    result = run(go)
    if as_json:
        report(f"extraction: {file.name}", result, True)
        return
    details = ("relations", "confusions")
    report(f"extraction: {file.name}", {k: v for k, v in result.items() if k not in details}, False)
    if "relations" in result:
        relation_tables(result, show)


def relation_tables(result: dict[str, Any], show: int) -> None:
    """Print the per-relation strict P/R/F1 table and the confusion summary of an extraction report."""
    from rich.table import Table

    from kgllm.cli.common import out

    table = Table("relation", "gold", "predicted", "precision", "recall", "f1",
                  title=f"per relation, strict (the {min(show, len(result['relations']))} with the most gold "
                        f"triples of {len(result['relations'])})")
    for name, m in list(result["relations"].items())[:show]:
        table.add_row(name, str(m["gold"]), str(m["predicted"]), f"{m['precision']:.3f}", f"{m['recall']:.3f}",
                      f"{m['f1']:.3f}")
    out.print(table)
    confused = Table("gold relation", "predicted instead", "count",
                     title=f"confusions (same subject and object; {result['spurious']} spurious predictions link "
                           f"no gold pair, {result['missed']} gold triples were not linked at all)")
    for c in result["confusions"]:
        confused.add_row(c["gold"], c["predicted"], str(c["count"]))
    out.print(confused)


def eval_kgqa(
    questions: Path = typer.Argument(..., help="JSONL, one object per line with \"question\", its \"answers\" "
                                               "and optionally the gold reasoning \"path\"."),
    kb: Path = typer.Option(..., "--kb", metavar="TSV", help="Knowledge base the questions are asked against, "
                                                             "one subject<TAB>relation<TAB>object per line."),
    limit: Optional[int] = LimitOpt,
    as_json: bool = JsonOpt,
    store: str = typer.Option("memory", "--store", metavar="KIND",
                              help="Load the KB into 'memory' (fresh, default) or 'neo4j' (the --uri database)."),
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
    with_llm: bool = typer.Option(False, "--llm", help="Also answer with the LM, batched through the engine "
                                  "(implied by --llm-url or --model), and report answer_hits@1."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    baseline: Optional[str] = typer.Option(None, "--baseline", metavar="NAME",
                                           help="Also measure a baseline in the same run: 'path-embedding' (the "
                                                "1-3 hop relation path closest to the question by MiniLM)."),
) -> None:
    """Measure Hits@1 and gold-path recall of graph retrieval over a TSV knowledge base.

    With --llm the reasoner also answers every question (all prompts in one engine batch), and answer_hits@1
    scores the entity its answers settle on.
    """
    from kgllm.eval.kgqa import evaluate_kgqa

    def go() -> dict[str, Any]:
        with contextlib.ExitStack() as stack:
            target = None
            if store != "memory":
                target = stack.enter_context(open_store(StoreSpec(None, store, uri, user, password)))
            llm = stack.enter_context(open_llm(not (with_llm or llm_url or model), model, llm_url, llm_name,
                                               llm_key, progress=err.is_terminal))
            return evaluate_kgqa(kb, questions, limit=limit, progress=err.is_terminal, store=target, llm=llm,
                                 baseline=baseline)

    result = run(go)
    report(f"kgqa: {questions.name}", result, as_json)


def eval_textgraph(
    file: Path = typer.Argument(..., help="JSONL, one story per line with \"text\", \"question\", its "
                                          "\"answers\" and the gold \"triples\"."),
    limit: Optional[int] = LimitOpt,
    no_llm: bool = typer.Option(False, "--no-llm", help="Answer from the graph alone."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build a graph per story, answer its question, and score the answers' accuracy and the extraction.

    Family stories are read with the kinship reader and answered by the kinship rules (graphs/rules/kinship.rules):
    accuracy is reported overall and by hop count (2-4, 5-10); "extraction" scores the graph's kinship triples and
    "proof" the kinship facts of each answer's derivation against the gold triples. Questions the rules cannot
    answer go to the LM; its prompts run through the engine (or the --llm-url server) in one batch.
    """
    from kgllm.eval.textgraph import evaluate_textgraph

    def go() -> dict[str, Any]:
        with open_llm(no_llm, model, llm_url, llm_name, llm_key, progress=err.is_terminal) as llm:
            return evaluate_textgraph(file, limit=limit, progress=err.is_terminal, llm=llm)

    result = run(go)
    report(f"textgraph: {file.name}", result, as_json)
