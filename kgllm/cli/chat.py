"""The ``chat`` command: a conversation with a graph in the terminal (:class:`kgllm.conversation.Conversation`).

Each line typed is a turn: the resolved (standalone) question is printed, then the cited answer. ``/sources``
prints the source sentences of the latest answer, ``/reset`` starts a new conversation, ``/quit`` (or end of
input) leaves. Line editing and history come from :mod:`readline` when the input is a terminal. ``--json``
prints one JSON object a turn and nothing else on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from kgllm.cli.ask import answer_json
from kgllm.cli.common import (GraphOpt, LlmKeyOpt, LlmNameOpt, LlmUrlOpt, ModelOpt, PasswordOpt, StoreOpt, StoreSpec,
                              UriOpt, UserOpt, emit_json, err, open_llm, open_store, out, run)

__all__ = ["chat", "turn_json"]

PROMPT = "you> "


def turn_json(answer: Any, turn: int) -> dict[str, Any]:
    """What ``--json`` prints for one turn: :func:`~kgllm.cli.ask.answer_json` plus the turn's number, the
    resolved question and the references left unresolved."""
    return {"turn": turn, **answer_json(answer), "resolved_question": answer.resolved_question,
            "unresolved": list(answer.unresolved)}


def _history() -> None:
    """Line editing and a history file, when readline is there and the input is a terminal."""
    try:
        import readline
    except ImportError:  # pragma: no cover - platforms without readline
        return
    path = Path.home() / ".cache" / "kgllm" / "chat_history"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            readline.read_history_file(str(path))
    except OSError:
        return
    import atexit

    readline.set_history_length(1000)
    atexit.register(lambda: _save(readline, path))


def _save(readline: Any, path: Path) -> None:
    try:
        readline.write_history_file(str(path))
    except OSError:
        pass


def chat(
    graph: Optional[Path] = GraphOpt,
    no_llm: bool = typer.Option(False, "--no-llm", help="Answer from the graph alone, without the language model."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object a turn on stdout and nothing else "
                                 "there (no prompt)."),
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Talk with the graph: follow-up questions are resolved against the conversation and answered with citations.

    Each turn prints the question that was answered (pronouns, "the company", "And X?", "In which year?" spelled
    out) and the cited answer. Commands: /sources (the latest answer's source sentences), /reset (a new
    conversation), /quit. The models load once, before the first prompt.
    """
    from kgllm.conversation import Conversation
    from kgllm.errors import KgllmError
    from kgllm.graph import KnowledgeGraph
    from kgllm.reason.reasoner import Reasoner

    def go() -> None:
        interactive = sys.stdin.isatty() and not as_json
        if sys.stdin.isatty():
            _history()
        with open_store(StoreSpec(graph, store, uri, user, password)) as source, \
                open_llm(no_llm, model, llm_url, llm_name, llm_key, progress=False) as llm:
            reasoner = Reasoner(KnowledgeGraph(source), llm=llm)
            err.print("loading models (sentence embedder" + (", language model" if llm is not None else "")
                      + ")...", highlight=False, markup=False)
            reasoner.retriever.linker.link("warm up", limit=1)
            conv = Conversation(reasoner)
            if interactive:
                err.print("Ask a question; /sources, /reset, /quit.", highlight=False, markup=False)
            turn = 0
            while True:
                try:
                    line = input(PROMPT if interactive else "")
                except EOFError:
                    break
                except KeyboardInterrupt:
                    err.print()
                    continue
                text = line.strip()
                if not text:
                    continue
                if text in ("/quit", "/exit", "/q"):
                    break
                if text == "/reset":
                    conv.reset()
                    if as_json:
                        emit_json({"reset": True})
                    else:
                        out.print("(new conversation)", highlight=False)
                    continue
                if text == "/sources":
                    sources = conv.sources
                    if as_json:
                        emit_json({"sources": [p.to_dict() for p in sources]})
                    elif not sources:
                        out.print("(no sources)", highlight=False)
                    for i, p in enumerate(sources, 1):
                        out.print(f"  [{i}] {p.doc_id}: {p.sentence}", highlight=False, markup=False)
                    continue
                if text.startswith("/"):
                    err.print(f"unknown command {text}: /sources, /reset, /quit", highlight=False, markup=False)
                    continue
                try:
                    answer = conv.ask(text)
                except KgllmError as exc:
                    err.print(f"error: {exc}", highlight=False, markup=False)
                    continue
                turn += 1
                if as_json:
                    emit_json(turn_json(answer, turn))
                    continue
                if answer.resolved_question != answer.question:
                    out.print(f"[bold]Q:[/bold] {escape(answer.resolved_question or '')}", highlight=False)
                if answer.unresolved:
                    out.print(f"(not resolved: {', '.join(answer.unresolved)})", highlight=False, markup=False)
                out.print(f"[bold]A:[/bold] {escape(answer.text)}", highlight=False)
                if answer.facts:
                    out.print("\n".join(answer.cite().splitlines()[1:]), highlight=False, markup=False)
                out.file.flush()

    run(go)
