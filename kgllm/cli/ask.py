"""``kgllm ask``: one question, or a file of them answered with one load of the models.

Everything the command is given is checked before anything loads: an empty question, or a questions file with a
bad line (each named with its line), exits with status 2 at once.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "q.txt").write_text("Where was Ada born?\\n\\nWho founded Fjordcell?\\n")
>>> [q.text for q in read_questions(folder / "q.txt")]
['Where was Ada born?', 'Who founded Fjordcell?']
>>> _ = (folder / "q.jsonl").write_text('{"id": "q1", "question": "Where was Ada born?"}\\n')
>>> [(q.id, q.text) for q in read_questions(folder / "q.jsonl")]
[('q1', 'Where was Ada born?')]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape

from kgllm.cli.common import (GraphOpt, JsonOpt, LlmKeyOpt, LlmNameOpt, LlmUrlOpt, ModelOpt, PasswordOpt, StoreOpt,
                              StoreSpec, UriOpt, UserOpt, emit_json, err, open_llm, open_store, out, run)
from kgllm.errors import InputError, NotFoundError

__all__ = ["ask", "Question", "read_questions", "answer_json", "rule_files"]


@dataclass(frozen=True)
class Question:
    """A question to answer, with its id when the file gave one (JSONL ``id``)."""

    text: str
    id: Optional[str] = None


def read_questions(path: Path) -> list[Question]:
    """The questions of ``path``: one a line, or JSONL objects with a ``question`` string (and maybe an ``id``).

    A file is JSONL when its name ends in ``.jsonl``/``.ndjson`` or its first line starts with ``{``. Blank lines
    are skipped.

    Raises
    ------
    NotFoundError
        No such file.
    InputError
        A bad line (each one named, with its line number and what was expected), or no question at all.
    """
    if not path.is_file():
        raise NotFoundError(f"questions file not found: {path}")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); expected a question a line") from None
    filled = [(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip()]
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson") or (bool(filled) and filled[0][1].startswith("{"))
    questions: list[Question] = []
    bad: list[str] = []
    for n, line in filled:
        if not jsonl:
            questions.append(Question(line))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(f"{path}:{n}: malformed JSON ({exc.msg} at column {exc.colno}); expected one JSON object a line")
            continue
        text = obj.get("question") if isinstance(obj, dict) else None
        if not isinstance(text, str) or not text.strip():
            bad.append(f"{path}:{n}: expected an object with a non-empty string field 'question'")
            continue
        questions.append(Question(text.strip(), None if obj.get("id") is None else str(obj["id"])))
    if bad:
        raise InputError(bad[0] if len(bad) == 1 else f"{len(bad)} bad lines in {path}:\n  " + "\n  ".join(bad))
    if not questions:
        raise InputError(f"{path}: no questions (expected a question a line, or JSONL with 'question')")
    return questions


def rule_files(rules: List[str]) -> tuple[str, ...]:
    """``--rules`` values as files: a shipped rule file's name (``kinship``) becomes the packaged file's path
    (:func:`kgllm.rules.path`, so an installed kgllm finds it too), a path stays as given.

    >>> rule_files(["kinship"])[0].endswith("kinship.rules"), rule_files(["my/office.rules"])
    (True, ('my/office.rules',))
    """
    from kgllm.rules import path

    return tuple(r if Path(r).is_file() or "/" in r else str(path(r)) for r in rules)


def answer_json(answer: Any, id: Optional[str] = None) -> dict[str, Any]:
    """What ``--json`` prints for one answer (names as written next to the ids)."""
    name = answer.subgraph.name if answer.subgraph is not None else str
    return {
        **({"id": id} if id is not None else {}),
        "question": answer.question,
        "answer": answer.text,
        "supported": answer.supported,
        "confidence": round(answer.confidence, 4),
        "generated": answer.generated,
        "entities": [{"id": e, "name": name(e)} for e in answer.entities[:5]],
        "facts": [{"id": f.id, "subject": name(f.subject), "relation": f.relation, "object": name(f.object),
                   "subject_id": f.subject, "object_id": f.object} for f in answer.facts],
        "sources": [p.to_dict() for p in answer.sources],
    }


def _print(answer: Any, streamed: bool = False) -> None:
    if streamed:
        out.print()
    else:
        out.print(f"[bold]Q:[/bold] {escape(answer.question)}", highlight=False)
        out.print(f"[bold]A:[/bold] {escape(answer.text)}", highlight=False)
    if answer.facts:
        out.print("[bold]Because:[/bold]")
        out.print("\n".join(answer.cite().splitlines()[1:]), highlight=False, markup=False)


def ask(
    question: Optional[str] = typer.Argument(None, help="A question in natural language (or --file)."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", metavar="QUESTIONS",
                                        help="Answer every question of this file (one a line, or JSONL objects "
                                             "with 'question' and maybe 'id'), loading the models once."),
    graph: Optional[Path] = GraphOpt,
    no_llm: bool = typer.Option(False, "--no-llm", help="Answer from the graph alone, without the language model."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    no_stream: bool = typer.Option(False, "--no-stream",
                                   help="Print the answer when it is complete, not token by token."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout and nothing else there "
                                 "(with --file: one object a line, in the file's order)."),
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
    rules: List[str] = typer.Option([], "--rules", help="Rule file to derive relations the graph lacks: a name "
                                    "shipped with kgllm (kinship, in graphs/rules/) or a path; repeatable."),
) -> None:
    """Answer QUESTION from the graph and print the facts and source sentences it rests on.

    The answer is printed once it has been checked against the graph: the model picks among the graph's
    candidates (or its words are kept only when every name, number and date in them is in the cited facts), so
    no printed line is withdrawn later. Model loading is announced on stderr. With --file, every question of the
    file is answered with one load of the models, the language model working on all of them together.
    """
    from kgllm.graph import KnowledgeGraph
    from kgllm.reason.reasoner import Reasoner, ReasonerConfig

    def go() -> None:
        if (question is None) == (file is None):
            raise InputError("give a QUESTION or --file QUESTIONS (one of them)")
        if question is not None and not question.strip():
            raise InputError("empty question: nothing to answer")
        asked = read_questions(file) if file is not None else [Question(question.strip())]   # type: ignore[union-attr]
        files = rule_files(rules)
        with open_store(StoreSpec(graph, store, uri, user, password)) as source, \
                open_llm(no_llm, model, llm_url, llm_name, llm_key,
                         progress=file is not None and err.is_terminal) as llm:
            reasoner = Reasoner(KnowledgeGraph(source), llm=llm, config=ReasonerConfig(rules=files))
            err.print("loading models (sentence embedder" + (", language model" if llm is not None else "")
                      + ")...", highlight=False, markup=False)
            if file is not None:
                answers = reasoner.ask_many([q.text for q in asked], progress=err.is_terminal and not as_json)
                for i, (q, answer) in enumerate(zip(asked, answers)):
                    if as_json:
                        emit_json(answer_json(answer, q.id))
                    else:
                        if i:
                            out.print()
                        _print(answer)
                return
            streamed: list[str] = []

            def show(piece: str) -> None:
                if not streamed:
                    out.print(f"[bold]Q:[/bold] {escape(asked[0].text)}", highlight=False)
                    out.print("[bold]A:[/bold] ", end="")
                    piece = piece.lstrip()
                streamed.append(piece)
                out.print(piece, end="", highlight=False, markup=False)
                out.file.flush()

            answer = reasoner.ask(asked[0].text, on_token=None if (as_json or no_stream) else show)
        if as_json:
            emit_json(answer_json(answer))
        else:
            _print(answer, streamed=bool(streamed))

    run(go)
