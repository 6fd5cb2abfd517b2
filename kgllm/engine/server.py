"""An OpenAI-compatible HTTP server over the engine (standard library only).

Endpoints: ``POST /v1/completions``, ``POST /v1/chat/completions`` (both with ``"stream": true``
for server-sent events), ``GET /v1/models``, ``GET /health``. Every HTTP request runs in its own
thread; one engine thread owns the :class:`~kgllm.engine.Engine` and batches all of them.

Examples
--------
>>> server = EngineServer(engine, port=8000).start()     # doctest: +SKIP
>>> server.url                                           # doctest: +SKIP
'http://127.0.0.1:8000'
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kgllm.engine.params import SamplingParams
from kgllm.errors import ConfigError, InputError, KgllmError

__all__ = ["EngineServer"]


def _params(body: dict, default_max: int) -> SamplingParams:
    def get(key: str, default):
        value = body.get(key)
        return default if value is None else value

    stop = get("stop", ())
    try:
        return SamplingParams(
            max_tokens=get("max_tokens", get("max_completion_tokens", default_max)),
            temperature=get("temperature", 0.0), top_p=get("top_p", 1.0), top_k=get("top_k", 0),
            seed=body.get("seed"), stop=(stop,) if isinstance(stop, str) else tuple(stop))
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc


class EngineServer:
    """Serve ``engine`` on ``host:port`` (port 0 picks a free one); ``start()`` / ``stop()``."""

    def __init__(self, engine, host: str = "127.0.0.1", port: int = 8000, model_name: str = "kgllm-engine") -> None:
        self.engine, self.host, self.port, self.model_name = engine, host, port, model_name
        self._inbox: queue.Queue = queue.Queue()
        self._streams: dict[str, queue.Queue] = {}
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ----------------------------------------------------------- engine side
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                cmd = self._inbox.get(timeout=0 if self.engine.has_unfinished() else 0.2)
            except queue.Empty:
                cmd = None
            while cmd is not None:
                self._handle(cmd)
                try:
                    cmd = self._inbox.get_nowait()
                except queue.Empty:
                    cmd = None
            if self.engine.has_unfinished():
                try:
                    outs = self.engine.step()
                except Exception as exc:  # noqa: BLE001 - report to every waiting client
                    for q in self._streams.values():
                        q.put(exc)
                    self._streams.clear()
                    continue
                for out in outs:
                    q = self._streams.get(out.request_id)
                    if q is not None:
                        q.put(out)
                        if out.finished:
                            del self._streams[out.request_id]

    def _handle(self, cmd: tuple) -> None:
        if cmd[0] == "abort":
            self._streams.pop(cmd[1], None)
            self.engine.abort(cmd[1])
            return
        _, prompt, params, reply = cmd
        try:
            rid = self.engine.add_request(prompt, params)
        except Exception as exc:  # noqa: BLE001 - handed to the HTTP thread
            reply.put(exc)
            return
        self._streams[rid] = reply
        reply.put(rid)

    def submit(self, prompt, params: SamplingParams) -> tuple[str, queue.Queue]:
        """Queue a request from any thread; ``(request id, queue of Output)``. Bad input raises here."""
        reply: queue.Queue = queue.Queue()
        self._inbox.put(("add", prompt, params, reply))
        first = reply.get()
        if isinstance(first, BaseException):
            raise first
        return first, reply

    def abort(self, request_id: str) -> None:
        self._inbox.put(("abort", request_id))

    # ------------------------------------------------------------- lifecycle
    def start(self) -> "EngineServer":
        self._httpd = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._threads = [threading.Thread(target=self._loop, name="kgllm-engine", daemon=True),
                         threading.Thread(target=self._httpd.serve_forever, name="kgllm-http", daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for t in self._threads:
            t.join(timeout=5)


def _make_handler(server: EngineServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args) -> None:   # quiet
            pass

        def _json(self, code: int, obj: dict) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code: int, message: str, kind: str = "invalid_request_error") -> None:
            self._json(code, {"error": {"message": message, "type": kind, "code": code}})

        def do_GET(self) -> None:
            if self.path == "/health":
                self._json(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": server.model_name, "object": "model",
                                                             "owned_by": "kgllm"}]})
            else:
                self._error(404, f"unknown path {self.path}")

        def do_POST(self) -> None:
            chat = self.path == "/v1/chat/completions"
            if not chat and self.path != "/v1/completions":
                return self._error(404, f"unknown path {self.path}")
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not isinstance(body, dict):
                    raise InputError("request body must be a JSON object")
                if int(body.get("n") or 1) != 1:
                    raise ConfigError("only n=1 is supported")
                params = _params(body, 256 if chat else 16)
                if chat:
                    msgs = body.get("messages")
                    if not isinstance(msgs, list) or not msgs:
                        raise InputError("messages must be a non-empty list")
                    prompt = server.engine.tokenizer.apply_chat_template(msgs, add_generation_prompt=True,
                                                                         tokenize=False)
                else:
                    prompt = body.get("prompt")
                    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
                        prompt = prompt[0]
                    if not isinstance(prompt, (str, list)):
                        raise InputError("prompt must be a string or a list of token ids")
                rid, outs = server.submit(prompt, params)
            except (KgllmError, ValueError, TypeError) as exc:
                return self._error(400, str(exc))
            meta = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:12]}", "created": int(time.time()),
                    "model": server.model_name}
            if body.get("stream"):
                return self._stream(rid, outs, meta, chat)
            out = outs.get()
            if isinstance(out, BaseException):
                return self._error(500, str(out), "server_error")
            while not out.finished:
                out = outs.get()
                if isinstance(out, BaseException):
                    return self._error(500, str(out), "server_error")
            choice = ({"index": 0, "message": {"role": "assistant", "content": out.text}} if chat
                      else {"index": 0, "text": out.text})
            usage = {"prompt_tokens": len(out.prompt_token_ids), "completion_tokens": len(out.token_ids),
                     "total_tokens": len(out.prompt_token_ids) + len(out.token_ids)}
            self._json(200, {**meta, "object": "chat.completion" if chat else "text_completion",
                             "choices": [{**choice, "finish_reason": out.finish_reason}], "usage": usage})

        def _stream(self, rid: str, outs: queue.Queue, meta: dict, chat: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            kind = "chat.completion.chunk" if chat else "text_completion"
            try:
                if chat:
                    self._event({**meta, "object": kind, "choices": [
                        {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
                while True:
                    out = outs.get()
                    if isinstance(out, BaseException):
                        self._event({"error": {"message": str(out), "type": "server_error"}})
                        break
                    if out.delta or out.finished:
                        piece = {"delta": {"content": out.delta} if out.delta else {}} if chat else {"text": out.delta}
                        self._event({**meta, "object": kind, "choices": [
                            {"index": 0, **piece, "finish_reason": out.finish_reason}]})
                    if out.finished:
                        break
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                server.abort(rid)     # the client went away: free its slot

        def _event(self, obj: dict) -> None:
            self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
            self.wfile.flush()

    return Handler
