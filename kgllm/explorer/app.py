"""The explorer's FastAPI application: :func:`create_app`, its security guard and its error handling.

Requests whose ``Host`` is not a name the server listens on (``ExplorerConfig.hosts``: loopback names by
default) get ``400`` on every path, so that a web page on another name cannot read the graph through DNS
rebinding. Every ``/api/`` path and the OpenAPI schema (``/openapi.json``; no Swagger page, which would load from a CDN) need
``Authorization: Bearer <token>`` when a token is set (``401`` otherwise); the web page's own files and
``/health`` hold no graph data and are served to anyone. Bodies over ``max_body_bytes`` get ``413``; bad
parameters and bodies ``422`` naming each wrong field; kgllm errors become ``400`` (bad input), ``404``
(unknown entity or fact) or ``503`` (the store is unreachable); a query or question that runs over its
time limit ``408``, one that waited too long for its turn ``429``; anything else ``500`` with a short message
(the traceback goes to the server log only). Every answer is JSON ``{"error": {"message", "code"}}``
on failure.

Examples
--------
>>> from kgllm.stores.memory import MemoryStore
>>> app = create_app(MemoryStore())
>>> sorted(r.path for r in app.routes if r.path.startswith("/api/"))[:3]
['/api/ask', '/api/ask/stream', '/api/between']
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from kgllm.errors import ConfigError, InputError, KgllmError, NotFoundError, StoreError
from kgllm.explorer.live import LiveGraph
from kgllm.explorer.models import ExplorerConfig
from kgllm.explorer.limits import Busy
from kgllm.explorer.chat import add_chat_routes
from kgllm.explorer.routes import add_routes
from kgllm.stores.base import GraphStore

__all__ = ["create_app", "STATIC"]

log = logging.getLogger("kgllm.explorer")

STATIC = Path(__file__).parent / "static"
"""The web page's files (``index.html``, ``app.js``, ``app.css``, ``vendor/``)."""

_PROTECTED = ("/api/", "/v1/", "/openapi.json")
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self' "
                                         b"'unsafe-inline'; frame-ancestors 'none'")]


def error(code: int, message: str) -> JSONResponse:
    """The JSON error answer ``{"error": {"message": ..., "code": ...}}``."""
    return JSONResponse({"error": {"message": message, "code": code}}, status_code=code)


def host_name(header: str) -> str:
    """The host name of a ``Host`` header, without its port, lower case (an IPv6 address without brackets).

    >>> host_name("LocalHost:8765"), host_name("[::1]:80"), host_name("127.0.0.1")
    ('localhost', '::1', '127.0.0.1')
    """
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class _Guard:
    """ASGI middleware: the ``Host`` check, bearer token on protected paths, body size limit, security headers."""

    def __init__(self, app: Any, token: str | None, max_body_bytes: int, hosts: tuple[str, ...]) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes
        self.token = f"Bearer {token}".encode() if token else None
        self.hosts = {host_name(h) for h in hosts if h and h != "*"}
        self.any_ip = any(h in ("0.0.0.0", "::", "*") for h in hosts)  # bound to every interface: any address

    def host_ok(self, header: bytes) -> bool:
        """Whether a request for this ``Host`` is served: a name the server is bound to or was told to accept
        (a web page on another name, even one that resolves here, is refused: DNS rebinding)."""
        name = host_name(header.decode("latin-1"))
        return name in self.hosts or (self.any_ip and _is_ip(name))

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        started = False

        async def send_with_headers(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS]}
            await send(message)

        headers = dict(scope.get("headers") or [])
        path = scope.get("path", "")
        if not self.host_ok(headers.get(b"host", b"")):
            name = host_name(headers.get(b"host", b"").decode("latin-1")) or "(none)"
            return await error(400, f"host name {name!r} is not served here: the explorer answers only the host "
                                    "names it listens on (a web page on another name could read the graph through "
                                    f"DNS rebinding); to accept it, start kgllm serve with --allow-host {name}")(
                scope, receive, send_with_headers)
        if self.token and path.startswith(_PROTECTED) \
                and not secrets.compare_digest(headers.get(b"authorization", b""), self.token):
            return await error(401, "missing or wrong token: send 'Authorization: Bearer <token>'")(
                scope, receive, send_with_headers)
        too_big = error(413, f"request body over {self.max_body_bytes} bytes")
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return await too_big(scope, receive, send_with_headers)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return await too_big(scope, receive, send_with_headers)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, send_with_headers)
        except Exception as exc:  # no traceback to the client: a short message, the details in the log
            log.error("internal error on %s", path, exc_info=exc)
            if not started:
                await error(500, f"internal error ({type(exc).__name__}); the server log has the details")(
                    scope, receive, send_with_headers)


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def _describe(exc: RequestValidationError) -> str:
    body = exc.body if isinstance(exc.body, str) else exc.body.decode("utf-8", "replace") \
        if isinstance(exc.body, (bytes, bytearray)) else ""
    for e in exc.errors():
        if e.get("type") == "json_invalid":
            loc = e.get("loc", ())
            offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
            why = (e.get("ctx") or {}).get("error") or "not valid JSON"
            return f"the request body is not valid JSON: {why} at {_where(body, offset)}"
    parts = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, _describe(exc))

    @app.exception_handler(KgllmError)
    async def refused(_: Request, exc: KgllmError) -> JSONResponse:
        if isinstance(exc, NotFoundError):
            return error(404, str(exc))
        if isinstance(exc, (InputError, ConfigError)):
            return error(400, str(exc))
        if isinstance(exc, StoreError):
            log.warning("store error: %s", exc)
            return error(503, f"the graph store failed: {exc}")
        log.error("request failed: %s", exc)
        return error(500, str(exc))

    @app.exception_handler(Busy)
    async def busy(_: Request, exc: Busy) -> JSONResponse:
        return error(429, str(exc))

    @app.exception_handler(TimeoutError)
    async def too_slow(_: Request, exc: TimeoutError) -> JSONResponse:
        return error(408, str(exc) or "the request ran out of time")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, f"{exc.detail}")


def create_app(store: GraphStore | None = None, *, graph_file: str | os.PathLike[str] | None = None,
               reasoner_factory: Callable[[GraphStore], Any] | None = None, token: str | None = None,
               config: ExplorerConfig | None = None) -> FastAPI:
    """The explorer as an ASGI application: the JSON API under ``/api/`` and the web page at ``/``.

    Parameters
    ----------
    store : GraphStore, optional
        The graph to serve (a Neo4j store is read live; an in-process one is re-indexed when written).
    graph_file : path, optional
        A graph file, opened when ``store`` is omitted and re-opened whenever it changes on disk.
    reasoner_factory : callable, optional
        ``factory(store)`` makes the answerer of ``/api/ask`` (anything with ``ask(question,
        on_token=None)`` returning a :class:`~kgllm.types.Answer`); default a graph-only
        ``Reasoner(store, llm=None)``.
    token : str, optional
        Require ``Authorization: Bearer <token>`` on the API.
    config : ExplorerConfig, optional
        Limits (rows, timeouts, concurrency, body size).

    Returns
    -------
    The FastAPI app; ``app.state.live`` (a :class:`~kgllm.explorer.live.LiveGraph`) serves the graph.
    """
    config = config or ExplorerConfig()
    if store is None and graph_file is None:
        raise ConfigError("create_app needs a store or a graph_file")
    live = LiveGraph(store, graph_file, reasoner_factory, config.check_interval, warm=config.warm_reasoner)
    if hasattr(live.store, "query_timeout"):
        live.store.query_timeout = config.query_timeout  # Neo4j: the server ends slower queries
    app = FastAPI(title="kgllm graph explorer", version="1",
                  description="Search, browse and query a kgllm knowledge graph; ask it questions. "
                              "Read-only. See the web page at /.",
                  docs_url=None, redoc_url=None)
    app.state.live, app.state.config = live, config
    _add_error_handlers(app)

    @app.get("/health", tags=["server"], summary="Liveness (no graph access, no token).")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    add_routes(app, live, config)
    add_chat_routes(app, live, config)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(_Guard, token=token, max_body_bytes=config.max_body_bytes, hosts=config.hosts)
    return app
