"""What every ``kgllm`` command shares: consoles, options, error handling, opening and closing stores.

Errors print one line naming what was wrong and exit with status 2 (bad input) or 1 (other failures);
``--json`` prints exactly one JSON object on stdout.

Examples
--------
>>> from kgllm.cli.common import reflow
>>> reflow("First line\\nwraps here.\\n\\nSecond paragraph.")
'First line wraps here.\\n\\nSecond paragraph.'
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from kgllm.errors import InputError, KgllmError
from kgllm.stores.base import GraphStore
from kgllm.stores.detect import check_graph_file

__all__ = ["out", "err", "new_app", "command", "reflow", "run", "StoreSpec", "open_store", "save_if_file",
           "said_migrated", "open_llm",
           "emit_json", "report", "when"]

T = TypeVar("T")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


# ----------------------------------------------------------------------------------------------- help text
def reflow(text: Optional[str]) -> Optional[str]:
    """Join the hard-wrapped lines of each paragraph, so the terminal wraps help text, not the docstring."""
    if not text:
        return text
    paragraphs = [" ".join(line.strip() for line in para.splitlines() if line.strip())
                  for para in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


class _Argument(TyperArgument):
    """A positional argument shown as ``NAME`` / ``NAME...`` (upper case, no type), as people write usage."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def _usage_display_name(self) -> str:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx: Any) -> Optional[str]:
        return None


class _Option(TyperOption):
    """An option whose help shows a value only when it takes one (flags take none)."""

    def display_type_rich(self, ctx: Any) -> Optional[str]:
        return None if self.is_flag else super().display_type_rich(ctx)


def _humanize(params: list) -> list:
    """Give typer's parameters the display above (typer's own help shows ``{sources}...`` and ``--json <bool>``).

    Typer builds its parameter objects itself and takes no class for them, so the class of each built one is
    switched; parsing is untouched (only display methods are overridden).
    """
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption:
            param.__class__ = _Option
    return params


class _Command(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_params(self, ctx: Any) -> list:
        return _humanize(super().get_params(ctx))


class _Group(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_params(self, ctx: Any) -> list:
        return _humanize(super().get_params(ctx))


def new_app(help: str, **kwargs: Any) -> typer.Typer:
    """A command group whose help reads as sentences (see :func:`command`)."""
    return typer.Typer(help=help, cls=_Group, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, **kwargs)


def command(app: typer.Typer, name: Optional[str] = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Register a command on ``app`` with usage ``SOURCES...``, flags without a value and reflowed help."""
    return app.command(name, cls=_Command)


# ------------------------------------------------------------------------------------------------- options
GraphOpt = typer.Option(None, "--graph", "-g", metavar="FILE",
                        help="Graph file of the in-memory store, a SQLite database whatever its name (each write "
                             "commits only what changed; safe with other processes); created by build and import-kb. "
                             "A JSON graph file (.json, .json.gz) is read as it is, and converted in place to SQLite "
                             "by the first command that writes to it (the JSON kept as FILE.bak).")
StoreOpt = typer.Option("memory", "--store", metavar="KIND",
                        help="Where the graph lives: 'memory' (a --graph file) or 'neo4j'.")
UriOpt = typer.Option("bolt://127.0.0.1:7687", "--uri", envvar="NEO4J_URI", metavar="URI", help="Neo4j Bolt URI.")
UserOpt = typer.Option("neo4j", "--user", envvar="NEO4J_USER", metavar="USER", help="Neo4j user.")
PasswordOpt = typer.Option(None, "--password", envvar="NEO4J_PASSWORD", metavar="PASSWORD",
                           help="Neo4j password; omit for a server without auth.")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout and nothing else there.")
LimitOpt = typer.Option(None, "--limit", "-n", min=1, metavar="N", help="Only the first N items.")
ModelOpt = typer.Option(None, "--model", metavar="PATH",
                        help="A local Hugging Face model folder or .gguf file (default: the bundled SmolLM2).")
LlmUrlOpt = typer.Option(None, "--llm-url", envvar="KGLLM_LLM_URL", metavar="URL",
                         help="Use an OpenAI-compatible server (kgllm serve-llm, vLLM, llama.cpp) at this URL "
                              "instead of the local engine, e.g. http://127.0.0.1:8000/v1.")
LlmNameOpt = typer.Option("kgllm-engine", "--llm-name", envvar="KGLLM_LLM_NAME", metavar="NAME",
                          help="Model name sent to the --llm-url server (vLLM needs the served model's name).")
LlmKeyOpt = typer.Option(None, "--llm-api-key", envvar="KGLLM_LLM_API_KEY", metavar="TOKEN",
                         help="Bearer token for the --llm-url server.")


# ------------------------------------------------------------------------------------------ errors, output
def run(fn: Callable[[], T]) -> T:
    """Call ``fn``; a kgllm error becomes one line on stderr and exit status 2 (bad input) or 1."""
    try:
        return fn()
    except InputError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    except KgllmError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None


def when(iso: Optional[str], seconds: bool = False, day_of: Optional[str] = None) -> str:
    """An ISO-8601 UTC time as a table shows it: ``2026-12-07 02:21`` (``seconds``: ``:05``); only the time when
    ``day_of`` (another such time) is on the same day.

    >>> when("2026-12-07T02:21:05.123Z"), when("2026-12-07T02:25:00Z", True, day_of="2026-12-07T02:21:05Z")
    ('2026-12-07 02:21', '02:25:00')
    >>> when(None), when("yesterday")
    ('', 'yesterday')
    """
    if not iso:
        return ""
    if len(iso) < 16 or iso[10] != "T":
        return iso
    text = iso[:10] + " " + iso[11:19 if seconds else 16]
    return text[11:] if day_of and day_of[:10] == iso[:10] else text


def emit_json(obj: Any) -> None:
    """Write ``obj`` as one JSON line on stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def report(title: str, result: dict[str, Any], as_json: bool) -> None:
    """Print an evaluation result: one JSON object, or a table of metrics (nested dicts flattened)."""
    if as_json:
        emit_json(result)
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


# -------------------------------------------------------------------------------------------------- stores
@dataclass(frozen=True)
class StoreSpec:
    """Where a command's graph lives: a graph file (``kind="memory"``) or a Neo4j server."""

    graph: Optional[Path] = None
    kind: str = "memory"
    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    password: Optional[str] = None

    @property
    def where(self) -> str:
        """The graph file or the URI, for messages."""
        return str(self.graph) if self.kind == "memory" else self.uri


def _connect(spec: StoreSpec, create: bool) -> GraphStore:
    from kgllm.stores.memory import MemoryStore

    if spec.kind == "memory":
        if spec.graph is None:
            raise InputError("--graph FILE is required with the in-memory store (or use --store neo4j)")
        if create and (not spec.graph.exists() or (spec.graph.is_file() and spec.graph.stat().st_size == 0)):
            return MemoryStore.open(spec.graph, create=True)  # a new graph file is SQLite, whatever its name
        check_graph_file(spec.graph)  # by content, whatever its name; anything else is refused, saying what it is
        return MemoryStore.load(spec.graph)  # a SQLite file opens durable
    if spec.kind == "neo4j":
        from kgllm.stores.neo4j import Neo4jStore

        return Neo4jStore.connect(spec.uri, auth=(spec.user, spec.password) if spec.password else None)
    raise InputError(f"--store must be 'memory' or 'neo4j', got {spec.kind!r}")


def said_migrated(graph: Path, backup: Path) -> None:
    """The one line on stderr saying a JSON graph file was converted in place to SQLite."""
    err.print(f"kgllm: migrated {graph} to the SQLite graph format (the JSON is kept as {backup}; "
              "`kgllm export --to x.json` writes JSON)", highlight=False, markup=False)


@contextlib.contextmanager
def open_store(spec: StoreSpec, create: bool = False, write: Optional[bool] = None) -> Iterator[GraphStore]:
    """The store ``spec`` names (a graph file, new when ``create`` and missing, or a Neo4j connection).

    ``write`` (default: ``create``) says the command writes: a JSON graph file is then converted in place to the
    durable SQLite format just before the first write (the JSON kept as ``FILE.bak``, :func:`said_migrated`
    says so); a new graph file is always SQLite. The store is closed when the block ends, whether it ends
    normally or by an exception; a failure while closing after an error does not hide that error.
    """
    store = _connect(spec, create)
    migrate = getattr(store, "migrate_on_first_write", None)
    if (create if write is None else write) and callable(migrate):
        migrate(said_migrated)
    close = getattr(store, "close", None)
    try:
        yield store
    except BaseException:
        if callable(close):
            with contextlib.suppress(Exception):
                close()
        raise
    if callable(close):
        close()


def save_if_file(store: GraphStore, spec: StoreSpec) -> None:
    """Save an in-memory store that is not durable to its graph file; a SQLite or Neo4j store has committed.

    Every graph file a writing command opens through :func:`open_store` is SQLite (new, or migrated from JSON),
    so this only writes for a store opened otherwise.
    """
    from kgllm.stores.memory import MemoryStore

    if isinstance(store, MemoryStore) and spec.graph is not None and not store.durable:
        store.save(spec.graph)


# ------------------------------------------------------------------------------------------ language model
@contextlib.contextmanager
def open_llm(no_llm: bool, model: Optional[Path], llm_url: Optional[str], llm_name: str, llm_key: Optional[str],
             progress: bool = False) -> Iterator[Any]:
    """The Generator the options ask for (none, a remote OpenAI-compatible server, or the local engine), closed after.

    ``progress`` shows a bar counting finished conversations when one call has several (evaluations).
    """
    if no_llm:
        yield None
        return
    from kgllm.lm import LocalLM, resolve_llm

    if llm_url:
        if model is not None:
            raise InputError("--model and --llm-url exclude each other (the server chooses its model)")
        if not llm_url.startswith(("http://", "https://")):
            raise InputError(f"--llm-url expects an http:// or https:// URL, got {llm_url!r}")
        llm = resolve_llm(llm_url, model=llm_name, api_key=llm_key, progress=progress)
    else:
        llm = LocalLM(model, progress=progress)
    try:
        yield llm
    finally:
        close = getattr(llm, "close", None)
        if callable(close):
            close()
