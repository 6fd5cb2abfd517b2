"""An OpenAI-compatible HTTP API over the engine, on FastAPI + uvicorn.

Endpoints: ``POST /v1/completions``, ``POST /v1/chat/completions`` (both with ``"stream": true``
for server-sent events), ``GET /v1/models``, ``GET /health``. Requests are pydantic models (unknown
fields are accepted, as OpenAI does); bad ones get ``400`` with an OpenAI-style ``{"error": ...}``
body, bodies over ``max_body_bytes`` get ``413``, and with ``api_key`` set every ``/v1/`` request needs
``Authorization: Bearer <api_key>`` (``401`` without it). A client that disconnects has its request
aborted. One engine thread (:class:`~kgllm.server.engine_loop.EngineLoop`) owns the engine and
batches every request.

Examples
--------
>>> server = EngineServer(engine, port=0).start()     # doctest: +SKIP
>>> server.url                                        # doctest: +SKIP
'http://127.0.0.1:41837'
>>> server.stop()                                     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import queue
import secrets
import time
import uuid
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.exceptions import HTTPException

from kgllm.engine.params import SamplingParams
from kgllm.errors import ConfigError, GenerationError, InputError, KgllmError
from kgllm.server.background import BackgroundServer
from kgllm.server.engine_loop import AsyncSink, EngineLoop

__all__ = ["EngineServer", "CompletionRequest", "ChatRequest"]

_GONE = object()     # put in a request's queue when its client disconnects


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = None
    stream: bool | None = False


class CompletionRequest(_Sampling):
    """Body of ``POST /v1/completions``: one prompt (text, a one-item list of text, or token ids)."""

    prompt: str | list[StrictInt] | list[str]


class ChatMessage(BaseModel):
    """One chat message (extra fields such as ``name`` are accepted and passed to the template)."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str


class ChatRequest(_Sampling):
    """Body of ``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = None


def _params(body: _Sampling, default_max: int) -> SamplingParams:
    if (body.n or 1) != 1:
        raise ConfigError(f"only n=1 is supported, got n={body.n}")
    max_tokens = body.max_tokens if body.max_tokens is not None else getattr(body, "max_completion_tokens", None)
    stop = body.stop if body.stop is not None else ()
    return SamplingParams(max_tokens=default_max if max_tokens is None else max_tokens,
                          temperature=0.0 if body.temperature is None else body.temperature,
                          top_p=1.0 if body.top_p is None else body.top_p,
                          top_k=0 if body.top_k is None else body.top_k, seed=body.seed,
                          stop=(stop,) if isinstance(stop, str) else tuple(stop))


def _prompt(prompt: str | list) -> str | list[int]:
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        if len(prompt) != 1:
            raise InputError(f"one prompt per request is supported, got a list of {len(prompt)}")
        return prompt[0]
    return prompt


def _error(code: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=code)


def _sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj)}\n\n"


class _Guard:
    """ASGI middleware: bearer token on ``/v1/`` paths and a request body size limit (read up front)."""

    def __init__(self, app, api_key: str | None, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes
        self.token = f"Bearer {api_key}".encode() if api_key else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.token and scope["path"].startswith("/v1/") \
                and not secrets.compare_digest(headers.get(b"authorization", b""), self.token):
            return await _error(401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                                "authentication_error")(scope, receive, send)
        too_big = _error(413, f"request body over {self.max_body_bytes} bytes", "request_too_large")
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return await too_big(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":      # the client left while sending
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return await too_big(scope, receive, send)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class EngineServer:
    """Serve ``engine`` on ``host:port`` (port 0 picks a free one); ``start()`` / ``stop()``.

    Parameters
    ----------
    engine : Engine
        Owned by the server's engine thread from :meth:`start` on.
    host, port : str, int
        Where to listen; :attr:`url` reports the real port once started.
    model_name : str
        Name reported by ``/v1/models`` and in responses.
    api_key : str, optional
        When set, ``/v1/`` requests need ``Authorization: Bearer <api_key>``.
    max_body_bytes : int
        Largest request body accepted (``413`` beyond).
    """

    def __init__(self, engine, host: str = "127.0.0.1", port: int = 8000, model_name: str = "kgllm-engine",
                 api_key: str | None = None, max_body_bytes: int = 1 << 20) -> None:
        if max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
        self.engine, self.model_name = engine, model_name
        self.loop = EngineLoop(engine)
        self.app = self._build_app()
        self._http = BackgroundServer(_Guard(self.app, api_key, max_body_bytes), host, port)

    @property
    def host(self) -> str:
        """The interface the server listens on."""
        return self._http.host

    @property
    def port(self) -> int:
        """The TCP port (the one the system picked once started with port 0)."""
        return self._http.port

    @property
    def url(self) -> str:
        """``http://host:port`` of the server (the real port once started)."""
        return self._http.url

    def start(self) -> "EngineServer":
        """Start the engine thread and the HTTP server; ``OSError`` if the address cannot be bound."""
        self.loop.start()
        try:
            self._http.start()
        except BaseException:
            self.loop.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving: requests in flight end with an error, then connections close."""
        self.loop.stop()
        self._http.stop()

    # ---------------------------------------------------- thread-side helper
    def submit(self, prompt: Any, params: SamplingParams) -> tuple[str, queue.Queue]:
        """Queue a request from any thread; ``(request id, queue of Output)``. Bad input raises here.

        Read the queue with ``self.loop.wait(q)``: it returns an error instead of blocking if the
        engine thread is gone.
        """
        rid, q = f"req-{uuid.uuid4().hex[:16]}", queue.Queue()
        self.loop.submit(rid, prompt, params, q)
        first = self.loop.wait(q)
        if isinstance(first, BaseException):
            raise first
        return rid, q

    def abort(self, request_id: str) -> None:
        """Abort a request from any thread."""
        self.loop.abort(request_id)

    # ------------------------------------------------------------------ HTTP
    def _build_app(self) -> FastAPI:
        app = FastAPI(title="kgllm engine", docs_url=None, redoc_url=None, openapi_url=None)

        @app.exception_handler(RequestValidationError)
        async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
            where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            return _error(400, f"invalid request: {where}")

        @app.exception_handler(KgllmError)
        async def refused(_: Request, exc: KgllmError) -> JSONResponse:
            if isinstance(exc, (InputError, ConfigError)):
                return _error(400, str(exc))
            return _error(500, str(exc), "server_error")

        @app.exception_handler(HTTPException)
        async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
            return _error(exc.status_code, f"{exc.detail}")

        @app.get("/health")
        async def health() -> dict:
            return {"status": "ok" if self.loop.alive else "engine stopped"}

        @app.get("/v1/models")
        async def models() -> dict:
            return {"object": "list", "data": [{"id": self.model_name, "object": "model", "owned_by": "kgllm"}]}

        @app.post("/v1/completions")
        async def completions(body: CompletionRequest, request: Request) -> Response:
            return await self._serve(request, body, _prompt(body.prompt), chat=False)

        @app.post("/v1/chat/completions")
        async def chat(body: ChatRequest, request: Request) -> Response:
            return await self._serve(request, body, [m.model_dump() for m in body.messages], chat=True)

        return app

    async def _serve(self, request: Request, body: _Sampling, prompt: Any, chat: bool) -> Response:
        params = _params(body, 256 if chat else 16)
        rid = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:16]}"
        outs: asyncio.Queue = asyncio.Queue()
        handed_off = False           # once True, the stream response aborts the request when it ends
        watcher = asyncio.ensure_future(_put_when_gone(request, outs)) if not body.stream else None
        try:
            self.loop.submit(rid, prompt, params, AsyncSink(asyncio.get_running_loop(), outs), chat=chat)
            first = await self.loop.wait_async(outs)
            if first is _GONE:
                return Response(status_code=499)
            if isinstance(first, BaseException):
                if isinstance(first, KgllmError):
                    raise first
                raise GenerationError(f"request failed: {type(first).__name__}: {first}") from first
            meta = {"id": rid, "created": int(time.time()), "model": self.model_name}
            if body.stream:
                handed_off = True
                return _EventStream(self._events(outs, meta, chat), on_close=lambda: self.loop.abort(rid))
            while True:
                out = await self.loop.wait_async(outs)
                if out is _GONE:
                    return Response(status_code=499)     # the client left: nobody reads this
                if isinstance(out, BaseException):
                    return _error(500, str(out), "server_error")
                if out.finished:
                    break
        finally:
            if watcher is not None:
                watcher.cancel()
            if not handed_off:
                self.loop.abort(rid)     # a no-op when it finished
        choice = ({"index": 0, "message": {"role": "assistant", "content": out.text}} if chat
                  else {"index": 0, "text": out.text})
        usage = {"prompt_tokens": len(out.prompt_token_ids), "completion_tokens": len(out.token_ids),
                 "total_tokens": len(out.prompt_token_ids) + len(out.token_ids)}
        return JSONResponse({**meta, "object": "chat.completion" if chat else "text_completion",
                             "choices": [{**choice, "finish_reason": out.finish_reason}], "usage": usage})

    async def _events(self, outs: asyncio.Queue, meta: dict, chat: bool) -> AsyncIterator[str]:
        """The SSE events of one request, ``data: [DONE]`` last."""
        kind = "chat.completion.chunk" if chat else "text_completion"
        if chat:
            yield _sse({**meta, "object": kind, "choices": [
                {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        while True:
            out = await self.loop.wait_async(outs)
            if isinstance(out, BaseException):
                yield _sse({"error": {"message": str(out), "type": "server_error", "code": 500}})
                break
            if out.delta or out.finished:
                piece = {"delta": {"content": out.delta} if out.delta else {}} if chat else {"text": out.delta}
                yield _sse({**meta, "object": kind, "choices": [
                    {"index": 0, **piece, "finish_reason": out.finish_reason}]})
            if out.finished:
                break
        yield "data: [DONE]\n\n"


class _EventStream(StreamingResponse):
    """A server-sent event stream that calls ``on_close`` when it ends, however it ends (client gone too)."""

    def __init__(self, events: AsyncIterator[str], on_close: Callable[[], None]) -> None:
        super().__init__(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self.on_close = on_close

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


async def _put_when_gone(request: Request, outs: asyncio.Queue) -> None:
    """Put ``_GONE`` in ``outs`` when the client disconnects (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    outs.put_nowait(_GONE)
