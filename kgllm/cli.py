"""The ``kgllm`` command line: build graphs, ask questions, query, evaluate.

Every command is a thin shell over the library. Errors print one line naming
what was wrong and exit with status 2 (bad input) or 1 (other failures);
``--json`` prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from kgllm.errors import InputError, KgllmError

app = typer.Typer(
    name="kgllm",
    help="Build knowledge graphs from text and answer questions with a local LM, citing the facts used.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Measure extraction, KG question answering and text->graph->answer on dataset files.",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

GraphOpt = typer.Option(None, "--graph", "-g",
                        help="Graph file (JSON, or .json.gz) of the in-memory store; created by build/import-kb.")
StoreOpt = typer.Option("memory", "--store", help="Where the graph lives: 'memory' (a --graph file) or 'neo4j'.")
UriOpt = typer.Option("bolt://127.0.0.1:7687", "--uri", envvar="NEO4J_URI", help="Neo4j Bolt URI (--store neo4j).")
UserOpt = typer.Option("neo4j", "--user", envvar="NEO4J_USER", help="Neo4j user (--store neo4j).")
PasswordOpt = typer.Option(None, "--password", envvar="NEO4J_PASSWORD",
                           help="Neo4j password (--store neo4j); omit for a server without auth.")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout and nothing else there.")
LimitOpt = typer.Option(None, "--limit", "-n", min=1, help="Only the first N items.")
ModelOpt = typer.Option(None, "--model", help="A local Hugging Face model folder or .gguf file (default: bundled SmolLM2).")
LlmUrlOpt = typer.Option(None, "--llm-url", envvar="KGLLM_LLM_URL",
                         help="Use an OpenAI-compatible server (`kgllm serve-llm`, vLLM, llama.cpp) at this URL "
                              "instead of the local engine, e.g. http://127.0.0.1:8000/v1.")
LlmNameOpt = typer.Option("kgllm-engine", "--llm-name", envvar="KGLLM_LLM_NAME",
                          help="Model name sent to the --llm-url server (vLLM needs the served model's name).")
LlmKeyOpt = typer.Option(None, "--llm-api-key", envvar="KGLLM_LLM_API_KEY", help="Bearer token for --llm-url.")


def _run(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except InputError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except KgllmError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


def _open_store(graph: Optional[Path], store: str, uri: str, user: str, password: Optional[str],
                create: bool = False):
    """The selected GraphStore: a graph file (loaded, or new when ``create``) or a Neo4j connection."""
    from kgllm.stores.memory import MemoryStore

    if store == "memory":
        if graph is None:
            raise InputError("--graph FILE is required with the in-memory store (or use --store neo4j)")
        return MemoryStore.load(graph) if (graph.exists() or not create) else MemoryStore()
    if store == "neo4j":
        from kgllm.stores.neo4j import Neo4jStore

        return Neo4jStore.connect(uri, auth=(user, password) if password else None)
    raise InputError(f"--store must be 'memory' or 'neo4j', got {store!r}")


def _persist(kg_store, graph: Optional[Path]) -> None:
    """Save an in-memory store to its file; a Neo4j store has already committed its writes."""
    from kgllm.stores.memory import MemoryStore

    if isinstance(kg_store, MemoryStore):
        kg_store.save(graph)
    else:
        kg_store.close()


def _llm(no_llm: bool, model: Optional[Path], llm_url: Optional[str], llm_name: str, llm_key: Optional[str]):
    """The Generator the options ask for: none, a remote OpenAI-compatible server, or the local engine."""
    from kgllm.reason.llm import LocalLM, resolve_llm

    if no_llm:
        return None
    if llm_url:
        if model is not None:
            raise InputError("--model and --llm-url exclude each other (the server chooses its model)")
        return resolve_llm(llm_url, model=llm_name, api_key=llm_key)
    return LocalLM(model)


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


@app.command()
def build(
    sources: List[Path] = typer.Argument(..., help="Text files, folders (read recursively) or JSONL files."),
    graph: Optional[Path] = GraphOpt,
    text_field: str = typer.Option("text", help="Field holding the text in JSONL files."),
    no_resolve: bool = typer.Option(False, "--no-resolve", help="Skip entity resolution."),
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Extract facts from SOURCES and add them to the graph (incremental: existing facts are kept)."""
    from kgllm.graph import KnowledgeGraph

    def go() -> None:
        target = _open_store(graph, store, uri, user, password, create=True)
        kg = KnowledgeGraph(target, **({"resolver": None} if no_resolve else {}))
        start = time.perf_counter()
        report = kg.ingest_files(sources, text_field=text_field, progress=err.is_terminal)
        _persist(target, graph)
        err.print(
            f"built {graph or uri}: {report.documents} documents, {report.extracted} facts extracted, "
            f"{report.facts_added} new facts, {report.entities_added} new entities, "
            f"{report.merges_applied} merges in {time.perf_counter() - start:.1f}s",
            highlight=False,
        )

    _run(go)


@app.command()
def ask(
    question: str = typer.Argument(..., help="A question in natural language."),
    graph: Optional[Path] = GraphOpt,
    no_llm: bool = typer.Option(False, "--no-llm", help="Answer from the graph alone, without the language model."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    no_stream: bool = typer.Option(False, "--no-stream", help="Print the answer when it is complete, not token by token."),
    as_json: bool = JsonOpt,
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Answer QUESTION from the graph and print the facts and source sentences it rests on.

    The model's answer streams token by token; when its words name no answer the graph supports,
    the graph's best-supported answer is printed after it.
    """
    from kgllm.graph import KnowledgeGraph
    from kgllm.reason.reasoner import Reasoner

    def go() -> None:
        kg = KnowledgeGraph(_open_store(graph, store, uri, user, password))
        reasoner = Reasoner(kg, llm=_llm(no_llm, model, llm_url, llm_name, llm_key))
        streamed: list[str] = []

        def show(piece: str) -> None:
            if not streamed:
                out.print(f"[bold]Q:[/bold] {question}", highlight=False)
                out.print("[bold]A:[/bold] ", end="")
                piece = piece.lstrip()
            streamed.append(piece)
            out.print(piece, end="", highlight=False, markup=False)
            out.file.flush()

        answer = reasoner.ask(question, on_token=None if (as_json or no_stream) else show)
        if as_json:
            _emit_json({
                "question": answer.question,
                "answer": answer.text,
                "supported": answer.supported,
                "entities": answer.entities[:5],
                "facts": [{"id": f.id, "subject": f.subject, "relation": f.relation, "object": f.object}
                          for f in answer.facts],
                "sources": [p.to_dict() for p in answer.sources],
            })
            return
        if streamed:
            out.print()
            if " ".join("".join(streamed).split()) != answer.text:
                out.print(f"[bold]Graph answer:[/bold] {answer.text} (the model's words name no answer the graph "
                          "supports)", highlight=False)
        else:
            out.print(f"[bold]Q:[/bold] {answer.question}", highlight=False)
            out.print(f"[bold]A:[/bold] {answer.text}", highlight=False)
        if answer.facts:
            out.print("[bold]Because:[/bold]")
            out.print("\n".join(answer.cite().splitlines()[1:]), highlight=False)

    _run(go)


@app.command()
def query(
    cypher: str = typer.Argument(..., help='Read-only Cypher, e.g. \'MATCH (a)-[r]->(b) RETURN a.name, b.name\'.'),
    graph: Optional[Path] = GraphOpt,
    param: List[str] = typer.Option([], "--param", "-p", help="Query parameter NAME=VALUE (repeatable)."),
    limit: int = typer.Option(1000, min=1, help="At most this many rows."),
    as_json: bool = JsonOpt,
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Run a read-only Cypher query on the graph and print the rows."""
    from kgllm.graph import KnowledgeGraph

    def go() -> None:
        params: dict[str, Any] = {}
        for item in param:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise InputError(f"--param expects NAME=VALUE, got {item!r}")
            params[name] = value
        rows = KnowledgeGraph(_open_store(graph, store, uri, user, password)).query(cypher, params, limit=limit)
        if as_json:
            _emit_json({"rows": rows})
            return
        table = Table(*(rows[0].keys() if rows else ["(no rows)"]))
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        out.print(table)

    _run(go)


@app.command("import-kb")
def import_kb(
    tsv: Path = typer.Argument(..., help="Knowledge base, one subject<TAB>relation<TAB>object per line."),
    graph: Optional[Path] = GraphOpt,
    store: str = StoreOpt, uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Add the facts of a TSV knowledge base to the graph."""
    from kgllm.graph import KnowledgeGraph

    def go() -> None:
        target = _open_store(graph, store, uri, user, password, create=True)
        result = KnowledgeGraph(target).import_kb(tsv)
        _persist(target, graph)
        err.print(f"imported {tsv}: {result.facts_added} new facts, {result.entities_added} new entities",
                  highlight=False)

    _run(go)


@app.command()
def stats(graph: Optional[Path] = GraphOpt, as_json: bool = JsonOpt, store: str = StoreOpt, uri: str = UriOpt,
          user: str = UserOpt, password: Optional[str] = PasswordOpt) -> None:
    """Print counts of entities, facts, relations, documents and merges."""

    def go() -> None:
        numbers = _open_store(graph, store, uri, user, password).stats()
        if as_json:
            _emit_json(numbers)
            return
        table = Table("what", "count")
        for k, v in numbers.items():
            table.add_row(k, str(v))
        out.print(table)

    _run(go)


neo4j_app = typer.Typer(help="Run a local Neo4j server (embedded Neo4j 5.26 built with Maven; needs Java 17).",
                        no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")
DataOpt = typer.Option(Path(".kgllm/neo4j"), "--data", help="Data folder of the server (pid file and log live there).")


@neo4j_app.command("start")
def neo4j_start(data: Path = DataOpt, port: int = typer.Option(7687, help="Bolt port on 127.0.0.1."),
                password: Optional[str] = typer.Option(None, envvar="NEO4J_PASSWORD",
                                                       help="Require this password (8+ characters); default no auth.")
                ) -> None:
    """Build (first time) and start a Neo4j server in the background; prints its Bolt URI."""
    from kgllm.testing import start_background

    pid, uri = _run(lambda: start_background(data, port=port, password=password))
    out.print(f"neo4j running (pid {pid}) at {uri}; data in {data}; stop with `kgllm neo4j stop --data {data}`")


@neo4j_app.command("stop")
def neo4j_stop(data: Path = DataOpt) -> None:
    """Stop the background Neo4j server of DATA."""
    from kgllm.testing import stop_background

    stopped = _run(lambda: stop_background(data))
    out.print("neo4j stopped" if stopped else f"no neo4j server was running for {data}")


@neo4j_app.command("status")
def neo4j_status(data: Path = DataOpt) -> None:
    """Say whether the background Neo4j server of DATA is running."""
    from kgllm.testing import background_status

    state = _run(lambda: background_status(data))
    out.print(f"running (pid {state[0]}) at {state[1]}" if state else "not running")


@app.command("export")
def export(
    to: Path = typer.Option(..., "--to", help="Graph file to write (JSON, or .json.gz)."),
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Copy the whole Neo4j graph (facts, provenance, aliases, merges) into a graph file."""
    from kgllm.stores.memory import MemoryStore
    from kgllm.stores.migrate import copy_store

    def go() -> None:
        source = _open_store(None, "neo4j", uri, user, password)
        target = MemoryStore()
        counts = copy_store(source, target, progress=err.is_terminal)
        target.save(to)
        source.close()
        err.print(f"exported {uri} to {to}: {counts}", highlight=False)

    _run(go)


@app.command("import")
def import_graph(
    graph: Path = typer.Argument(..., help="Graph file written by `kgllm build` or `kgllm export`."),
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
) -> None:
    """Copy a graph file into an empty Neo4j database, losing nothing."""
    from kgllm.stores.memory import MemoryStore
    from kgllm.stores.migrate import copy_store

    def go() -> None:
        source = MemoryStore.load(graph)
        target = _open_store(None, "neo4j", uri, user, password)
        counts = copy_store(source, target, progress=err.is_terminal)
        target.close()
        err.print(f"imported {graph} into {uri}: {counts}", highlight=False)

    _run(go)


def _report(title: str, result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _emit_json(result)
        return
    table = Table("metric", "value", title=title)

    def rows(prefix: str, obj: dict[str, Any]) -> None:
        for k, v in obj.items():
            if isinstance(v, dict):
                rows(f"{prefix}{k} ", v)
            else:
                table.add_row(f"{prefix}{k}", f"{v:.4f}" if isinstance(v, float) else str(v))

    rows("", result)
    out.print(table)


@eval_app.command("extraction")
def eval_extraction(
    file: Path = typer.Argument(..., help="JSONL with text and gold triples (see ../shared/data/README.md)."),
    limit: Optional[int] = LimitOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Strict and relaxed micro P/R/F1 of the rule extractor against gold triples."""
    from kgllm.eval.extraction import evaluate_extraction

    result = _run(lambda: evaluate_extraction(file, limit=limit, progress=err.is_terminal))
    _report(f"extraction: {file.name}", result, as_json)


@eval_app.command("kgqa")
def eval_kgqa(
    questions: Path = typer.Argument(..., help="JSONL questions with answers and gold paths."),
    kb: Path = typer.Option(..., "--kb", help="Knowledge base TSV the questions are asked against."),
    limit: Optional[int] = LimitOpt,
    as_json: bool = JsonOpt,
    store: str = typer.Option("memory", "--store",
                              help="Load the KB into 'memory' (fresh, default) or 'neo4j' (the --uri database)."),
    uri: str = UriOpt, user: str = UserOpt, password: Optional[str] = PasswordOpt,
    with_llm: bool = typer.Option(False, "--llm", help="Also answer with the LM, batched through the engine "
                                  "(implied by --llm-url or --model), and report answer_hits@1."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
) -> None:
    """Hits@1 and gold-path recall of graph retrieval over a TSV knowledge base.

    With --llm the reasoner also answers every question (all prompts in one engine batch) and
    answer_hits@1 scores the entity its answers settle on.
    """
    from kgllm.eval.kgqa import evaluate_kgqa

    def go() -> dict[str, Any]:
        target = None if store == "memory" else _open_store(None, store, uri, user, password)
        llm = _llm(not (with_llm or llm_url or model), model, llm_url, llm_name, llm_key)
        return evaluate_kgqa(kb, questions, limit=limit, progress=err.is_terminal, store=target, llm=llm)

    result = _run(go)
    _report(f"kgqa: {questions.name}", result, as_json)


@eval_app.command("textgraph")
def eval_textgraph(
    file: Path = typer.Argument(..., help="JSONL stories with a question, answers and gold triples."),
    limit: Optional[int] = LimitOpt,
    no_llm: bool = typer.Option(False, "--no-llm", help="Answer from the graph alone."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt, llm_name: str = LlmNameOpt, llm_key: Optional[str] = LlmKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build a graph per story, answer its question, score accuracy and extraction.

    The LM prompts of all stories run through the engine (or --llm-url server) in one batch.
    """
    from kgllm.eval.textgraph import evaluate_textgraph

    def go() -> dict[str, Any]:
        return evaluate_textgraph(file, limit=limit, progress=err.is_terminal,
                                  llm=_llm(no_llm, model, llm_url, llm_name, llm_key))

    result = _run(go)
    _report(f"textgraph: {file.name}", result, as_json)


@app.command("serve-llm")
def serve_llm(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port (0 picks a free one and prints it)."),
    model: Optional[Path] = ModelOpt,
    name: str = typer.Option("kgllm-engine", help="Model name the API reports in /v1/models and responses."),
    device: str = typer.Option("auto", help="auto (cuda, mps, then cpu), cpu, cuda, cuda:1, mps."),
    dtype: Optional[str] = typer.Option(None, help="float32 (CPU default), bfloat16 (GPU default) or float16."),
    kv_budget_mb: float = typer.Option(512, min=1, help="Memory for the paged KV cache, in MiB."),
    max_num_seqs: int = typer.Option(32, min=1, help="Most sequences decoded together in one step."),
    max_batch_tokens: int = typer.Option(512, min=1, help="Token budget of one step (prefill chunks + decodes)."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads for torch (default: torch's choice)."),
) -> None:
    """Serve the batched engine over an OpenAI-compatible HTTP API until Ctrl-C.

    Endpoints: POST /v1/completions, POST /v1/chat/completions (both with "stream": true),
    GET /v1/models, GET /health. Point `kgllm ask --llm-url` (or any OpenAI client) at it.
    """
    from kgllm.engine.engine import Engine
    from kgllm.engine.server import EngineServer

    def go() -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        engine = Engine.from_pretrained(model, device=device, dtype=dtype, kv_budget_mb=kv_budget_mb,
                                        max_num_seqs=max_num_seqs, max_batch_tokens=max_batch_tokens)
        try:
            server = EngineServer(engine, host=host, port=port, model_name=name).start()
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc}") from exc
        err.print(f"serving {name} ({model or 'bundled SmolLM2'} on {engine.runner.device}); Ctrl-C stops",
                  highlight=False)
        print(f"{server.url}/v1", flush=True)       # stdout: just the base URL, for scripts

        def interrupt(*_: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()

    _run(go)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
