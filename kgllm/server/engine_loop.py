"""The one thread that owns an :class:`~kgllm.engine.Engine` behind a server.

HTTP handlers never touch the engine: they :meth:`EngineLoop.submit` a request with a *sink* (anything
with ``put(item)``: a :class:`queue.Queue`, or :class:`AsyncSink` for asyncio code) and the engine
thread puts into it, in order: the request id once accepted (or the exception that refused it), then
each :class:`~kgllm.engine.Output`, until one is ``finished`` or an exception says the request failed.
Every accepted request ends with one of those two, also when a step fails or the loop stops.

Failures stay with the requests they concern: a failing ``step()`` fails (and aborts) the requests of
that step, an exception while adding or aborting one request goes to that request, and the thread
keeps serving the others.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from typing import Any, Protocol

from kgllm.engine.engine import StepError
from kgllm.engine.params import SamplingParams
from kgllm.errors import GenerationError

__all__ = ["EngineLoop", "AsyncSink", "Sink"]

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where the engine thread puts a request's id, outputs or error."""

    def put(self, item: Any) -> None: ...


class AsyncSink:
    """A :class:`Sink` feeding an :class:`asyncio.Queue` of ``loop`` from another thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, q: asyncio.Queue) -> None:
        self.loop, self.queue = loop, q

    def put(self, item: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:     # the event loop is closed: nobody is waiting any more
            pass


class EngineLoop:
    """Runs ``engine`` in a daemon thread; requests and aborts come in through a queue.

    Parameters
    ----------
    engine : Engine
        Used only from the loop's thread once :meth:`start` ran.
    idle_wait : float
        Seconds the thread sleeps waiting for work when nothing runs.
    """

    def __init__(self, engine, idle_wait: float = 0.2) -> None:
        self.engine, self.idle_wait = engine, idle_wait
        self._inbox: queue.Queue = queue.Queue()
        self._sinks: dict[str, Sink] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """True while the engine thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "EngineLoop":
        """Start the engine thread; from now on only it touches the engine."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kgllm-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread; requests still running get a :class:`GenerationError`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    # -------------------------------------------------------------- any thread
    def submit(self, request_id: str, prompt: Any, params: SamplingParams, sink: Sink, chat: bool = False) -> None:
        """Queue a request; ``prompt`` is text, token ids, or chat messages when ``chat``."""
        self._inbox.put(("add", request_id, prompt, params, sink, chat))

    def abort(self, request_id: str) -> None:
        """Stop a request (a no-op once it finished); its sink gets nothing more."""
        self._inbox.put(("abort", request_id))

    def wait(self, q: queue.Queue, poll: float = 0.5) -> Any:
        """Next item of a :class:`queue.Queue` sink; a :class:`GenerationError` if the thread is gone."""
        while True:
            try:
                return q.get(timeout=poll)
            except queue.Empty:
                if not self.alive:
                    return GenerationError("the engine thread is not running")

    async def wait_async(self, q: asyncio.Queue, poll: float = 1.0) -> Any:
        """Next item of an :class:`AsyncSink`'s queue; a :class:`GenerationError` if the thread is gone."""
        while True:
            try:
                return await asyncio.wait_for(q.get(), poll)
            except asyncio.TimeoutError:
                if not self.alive:
                    return GenerationError("the engine thread is not running")

    # ---------------------------------------------------------- engine thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._tick()
                except Exception as exc:  # noqa: BLE001 - outside any one request: fail those in flight
                    log.exception("engine loop failure")
                    self._fail(list(self._sinks), exc, abort=True)
                    time.sleep(0.05)
        finally:
            stopped = GenerationError("the server is stopping")
            self._fail(list(self._sinks), stopped, abort=True)
            while True:
                try:
                    cmd = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if cmd[0] == "add":
                    cmd[4].put(stopped)

    def _tick(self) -> None:
        busy = self.engine.has_unfinished()
        try:
            cmd = self._inbox.get(block=not busy, timeout=None if busy else self.idle_wait)
        except queue.Empty:
            cmd = None
        while cmd is not None:
            self._handle(cmd)
            try:
                cmd = self._inbox.get_nowait()
            except queue.Empty:
                cmd = None
        if self.engine.has_unfinished():
            self._step()

    def _handle(self, cmd: tuple) -> None:
        if cmd[0] == "abort":
            self._sinks.pop(cmd[1], None)
            self._abort(cmd[1])
            return
        _, rid, prompt, params, sink, chat = cmd
        try:
            if chat:
                prompt = self.engine.tokenizer.apply_chat_template(prompt, add_generation_prompt=True,
                                                                   tokenize=False)
            self.engine.add_request(prompt, params, request_id=rid)
        except Exception as exc:  # noqa: BLE001 - this request's error (nothing was queued), to its waiter
            sink.put(exc)
            return
        self._sinks[rid] = sink
        sink.put(rid)

    def _abort(self, rid: str) -> None:
        try:
            self.engine.abort(rid)
        except Exception:  # noqa: BLE001 - a failed abort must not stop the others
            log.exception("aborting request %s failed", rid)

    def _step(self) -> None:
        try:
            outs = self.engine.step()
        except StepError as exc:        # the engine already aborted the step's requests
            self._fail(exc.request_ids, exc, abort=False)
            return
        except Exception as exc:  # noqa: BLE001 - unknown failure: abort every request so it cannot repeat
            log.exception("engine step failed")
            self._fail(list(self._sinks), GenerationError(f"engine step failed: {type(exc).__name__}: {exc}"),
                       abort=True)
            return
        for out in outs:
            sink = self._sinks.get(out.request_id)
            if sink is None:
                continue
            if out.finished:
                del self._sinks[out.request_id]
            sink.put(out)

    def _fail(self, request_ids: list[str], exc: BaseException, abort: bool) -> None:
        for rid in request_ids:
            sink = self._sinks.pop(rid, None)
            if abort:
                self._abort(rid)
            if sink is not None:
                sink.put(exc)
