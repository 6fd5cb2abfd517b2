"""``kgllm serve``: the graph explorer (HTTP API and web page) over a graph file or a Neo4j server."""

from __future__ import annotations

import gc
import ipaddress
import socket
from pathlib import Path
from typing import Any, List, Optional

import typer

from kgllm.cli.common import (GraphOpt, LlmKeyOpt, LlmNameOpt, LlmUrlOpt, ModelOpt, PasswordOpt, StoreOpt,
                              StoreSpec, UriOpt, UserOpt, command, err, open_llm, open_store, run)
from kgllm.errors import InputError
from kgllm.server.background import serve_until_stopped

__all__ = ["register", "is_loopback", "served_hosts"]

KEEP_ALIVE_S = 75


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    command(app, "serve")(serve)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def served_hosts(host: str, allowed: List[str]) -> tuple[str, ...]:
    """The host names requests may be addressed to: those of the interface listened on, and ``allowed``.

    >>> served_hosts("127.0.0.1", [])
    ('127.0.0.1', 'localhost', '::1')
    >>> served_hosts("10.0.0.5", ["kg.example.org"])
    ('10.0.0.5', 'kg.example.org')
    """
    from kgllm.explorer.models import LOOPBACK_NAMES

    names = [host.strip("[]")]
    if is_loopback(host):
        names += LOOPBACK_NAMES
    elif host in ("0.0.0.0", "::", ""):
        names += [socket.gethostname(), socket.getfqdn(), *LOOPBACK_NAMES]
    return tuple(dict.fromkeys(n.lower() for n in [*names, *allowed] if n))


def serve(
    graph: Optional[Path] = GraphOpt,
    store: str = StoreOpt,
    uri: str = UriOpt,
    user: str = UserOpt,
    password: Optional[str] = PasswordOpt,
    host: str = typer.Option("127.0.0.1", metavar="HOST",
                             help="Interface to listen on. Anything but a loopback address needs --token."),
    port: int = typer.Option(8765, min=0, max=65535, metavar="PORT",
                             help="TCP port (0 picks a free one; the URL printed says which)."),
    token: Optional[str] = typer.Option(None, "--token", envvar="KGLLM_TOKEN", metavar="TOKEN",
                                        help="Require 'Authorization: Bearer TOKEN' on the API (the page asks "
                                             "for it once)."),
    llm: bool = typer.Option(False, "--llm", help="Word answers with the local language model (default: "
                                                  "answers from the graph alone, fast)."),
    model: Optional[Path] = ModelOpt,
    llm_url: Optional[str] = LlmUrlOpt,
    llm_name: str = LlmNameOpt,
    llm_key: Optional[str] = LlmKeyOpt,
    max_rows: int = typer.Option(1000, min=1, metavar="N", help="Rows a Cypher query returns at most."),
    query_timeout: float = typer.Option(10.0, min=0.01, metavar="SECONDS", help="Time limit of a Cypher query."),
    ask_timeout: float = typer.Option(60.0, min=0.01, metavar="SECONDS", help="Time limit of a question."),
    allow_host: List[str] = typer.Option([], "--allow-host", metavar="NAME",
                                         help="Also answer requests addressed to this host name (repeatable), e.g. "
                                              "the name of a proxy in front; others are refused (DNS rebinding)."),
) -> None:
    """Explore a graph in the browser: search, expand neighbours, read sources, run Cypher, ask questions.

    Serves the web page at / and a read-only JSON API under /api/ (its OpenAPI schema at /openapi.json)
    until Ctrl-C or SIGTERM. A graph file rewritten while serving (by kgllm build or a
    job) is reloaded without a restart; a Neo4j graph is read live. The page's URL is printed on stdout.
    """
    from kgllm.explorer import ExplorerConfig, create_app
    from kgllm.reason.reasoner import Reasoner
    from kgllm.server.background import BackgroundServer

    def go() -> None:
        if not is_loopback(host) and not token:
            raise InputError(f"--host {host} accepts connections from other machines: set --token TOKEN "
                             "(or KGLLM_TOKEN) so that only people with the token can read the graph")
        if token is not None and len(token) < 8:
            raise InputError("--token must be at least 8 characters long")
        spec = StoreSpec(graph, store, uri, user, password)
        if spec.kind == "memory" and (spec.graph is None or not spec.graph.is_file()):
            raise InputError(f"graph file {spec.graph} does not exist: build one with kgllm build or kgllm "
                             "import-kb" if spec.graph else "--graph FILE is required (or use --store neo4j)")
        if spec.kind == "memory":
            from kgllm.stores.detect import check_graph_file

            check_graph_file(spec.graph)   # by content, whatever its name; anything else is refused, saying what
        config = ExplorerConfig(max_rows=max_rows, query_timeout=query_timeout, ask_timeout=ask_timeout,
                                hosts=served_hosts(host, allow_host))
        with open_llm(not (llm or llm_url or model), model, llm_url, llm_name, llm_key) as lm:
            def reasoner(s: Any) -> Reasoner:
                return Reasoner(s, llm=lm)

            if spec.kind == "memory":
                _serve(create_app(graph_file=spec.graph, reasoner_factory=reasoner, token=token, config=config),
                       spec.where)
            else:
                with open_store(spec) as opened:
                    _serve(create_app(opened, reasoner_factory=reasoner, token=token, config=config), spec.where)

    def _serve(app: Any, where: str) -> None:
        # The graph loaded so far lives as long as the server: keep it out of the garbage collector's
        # full passes (a large in-memory graph would make every one of them slow).
        gc.collect()
        gc.freeze()
        try:
            # Idle connections stay open longer than uvicorn's 5 s: a busy client that reuses one just as the
            # server closes it would get "server disconnected".
            server = BackgroundServer(app, host, port, keep_alive=KEEP_ALIVE_S).start()
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc}") from exc
        err.print(f"exploring {where}{' (API needs the token)' if token else ''}; Ctrl-C stops",
                  highlight=False, markup=False)
        print(f"{server.url}/", flush=True)  # stdout: just the page's URL, for scripts
        serve_until_stopped(server)

    run(go)
