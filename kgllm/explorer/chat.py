"""Conversations over HTTP: ``POST /api/chat`` (server-side state) and ``POST /v1/chat/completions`` (OpenAI format).

``POST /api/chat`` takes ``{"question", "conversation_id"?}``: without an id a new conversation starts; the reply
is the JSON of ``/api/ask`` plus ``conversation_id``, ``turn``, ``resolved_question`` and ``unresolved``.
``POST /api/chat/stream`` sends the same as server-sent events, like ``/api/ask/stream`` (``conversation``
first, with the id, then ``token`` pieces, then ``answer``). Conversations live on the server
(:class:`Conversations`): each is forgotten ``chat_ttl`` seconds after its last turn, and beyond
``max_conversations`` the least recently used is forgotten. An unknown (or forgotten) id is ``404``; a
conversation already holding ``max_turns`` turns refuses more with ``413``; an empty turn is ``422``.

``POST /v1/chat/completions`` lets OpenAI chat clients talk to the graph: the ``messages`` are the
conversation (earlier user turns and the assistant's answers are replayed to resolve references, nothing is
asked again), the last user message is answered, and the reply's content is the cited answer
(:meth:`~kgllm.types.Answer.cite`); ``"stream": true`` sends it as ``chat.completion.chunk`` events and
``data: [DONE]``. The reply carries ``kgllm`` too: the resolved question, what was not resolved, ``supported``.
More than ``2 * max_turns + 1`` messages is ``413``; no user message, or an empty last one, ``422``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, AsyncIterator, Callable

import anyio
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response, StreamingResponse

from kgllm.conversation import Conversation
from kgllm.errors import NotFoundError
from kgllm.explorer.ask import answer_view, sse, stream_answer
from kgllm.explorer.limits import in_thread
from kgllm.explorer.live import LiveGraph
from kgllm.explorer.models import ChatCompletionRequest, ChatRequest, ExplorerConfig

__all__ = ["Conversations", "add_chat_routes"]


class TooLong(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class Conversations:
    """Server-side conversations: id -> :class:`~kgllm.conversation.Conversation`, with a time to live and a cap.

    >>> box = Conversations(ttl=60, cap=2, clock=lambda: 0.0)
    >>> a, b, c = (box.new(lambda: object()) for _ in range(3))
    >>> len(box), a in box, c in box   # the least recently used went when the third came
    (2, False, True)
    """

    def __init__(self, ttl: float, cap: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.cap, self.clock = ttl, cap, clock
        self._items: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = self.clock()
        for cid in [cid for cid, (_, seen) in self._items.items() if now - seen > self.ttl]:
            del self._items[cid]

    def new(self, make: Callable[[], Any]) -> str:
        with self._lock:
            self._expire()
            cid = uuid.uuid4().hex
            self._items[cid] = (make(), self.clock())
            while len(self._items) > self.cap:
                self._items.popitem(last=False)
            return cid

    def get(self, cid: str) -> Any:
        with self._lock:
            self._expire()
            if cid not in self._items:
                raise NotFoundError(f"no conversation {cid!r} (unknown, or forgotten after its time to live): "
                                    "send the turn without conversation_id to start a new one")
            conv, _ = self._items.pop(cid)
            self._items[cid] = (conv, self.clock())  # most recently used last
            return conv

    def __contains__(self, cid: object) -> bool:
        with self._lock:
            self._expire()
            return cid in self._items

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)


def _bind(conv: Conversation, snap: Any) -> Conversation:
    """The conversation answering on the current snapshot of the graph (a reloaded graph keeps the turns)."""
    if conv.reasoner is not snap.reasoner:
        data = conv.to_dict()
        fresh = Conversation.from_dict(data, snap.reasoner) if hasattr(snap.reasoner, "retriever") else None
        if fresh is None:
            fresh = Conversation(snap.reasoner, conv.max_turns, graph=snap.store)
            fresh.turns, fresh._order, fresh._genders = conv.turns, conv._order, conv._genders
        conv.reasoner, conv.resolver = fresh.reasoner, fresh.resolver
    return conv


def add_chat_routes(app: FastAPI, live: LiveGraph, config: ExplorerConfig) -> None:  # noqa: C901
    """Register ``/api/chat``, ``/api/chat/stream`` and ``/v1/chat/completions`` on ``app``."""
    box = Conversations(config.chat_ttl, config.max_conversations)
    asks = anyio.CapacityLimiter(config.ask_concurrency)
    locks: dict[str, threading.Lock] = {}

    def conversation(body: ChatRequest) -> tuple[str, Conversation]:
        snap = live.snapshot()
        if body.conversation_id is None:
            cid = box.new(lambda: Conversation(snap.reasoner, graph=snap.store))
        else:
            cid = body.conversation_id
        conv = box.get(cid)
        if len(conv.turns) >= config.max_turns:
            raise TooLong(f"conversation {cid} holds {len(conv.turns)} turns, the most one may: start a new one")
        return cid, _bind(conv, snap)

    def view(cid: str, conv: Conversation, answer: Any) -> dict[str, Any]:
        return {"conversation_id": cid, "turn": len(conv.turns), **answer_view(answer, config.max_subgraph_facts)}

    @app.post("/api/chat", response_model=dict[str, Any], tags=["ask"],
              summary="One turn of a conversation: the follow-up resolved against earlier turns, answered with "
                      "citations; no conversation_id starts one.")
    async def chat(body: ChatRequest) -> Response:
        cid, conv = conversation(body)

        def work() -> dict[str, Any]:
            with locks.setdefault(cid, threading.Lock()):  # one turn at a time per conversation
                return view(cid, conv, conv.ask(body.question))
        return JSONResponse(await in_thread(work, config.ask_timeout, "the turn", asks, config.queue_timeout))

    @app.post("/api/chat/stream", tags=["ask"], response_class=StreamingResponse,
              summary="Like /api/chat, as server-sent events: 'conversation' (the id), 'token' pieces, 'answer'.")
    async def chat_stream(body: ChatRequest) -> StreamingResponse:
        cid, conv = conversation(body)

        class Turn:  # what stream_answer asks: a snapshot whose ask() is this conversation's turn
            def snapshot(self) -> Any:
                return self

            def ask(self, question: str, on_token: Any = None) -> Any:
                with locks.setdefault(cid, threading.Lock()):
                    return conv.ask(question, on_token=on_token)

        async def events() -> AsyncIterator[str]:
            yield sse("conversation", {"conversation_id": cid})
            async for event in stream_answer(Turn(), body.question, config, asks):
                if event.startswith("event: answer"):
                    data = json.loads(event.split("data: ", 1)[1])
                    event = sse("answer", {"conversation_id": cid, "turn": len(conv.turns), **data})
                yield event

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/v1/chat/completions", tags=["openai"],
              summary="OpenAI-compatible chat: the messages are the conversation, the reply the cited answer.")
    async def completions(body: ChatCompletionRequest) -> Response:
        messages = [m for m in body.messages if m.role in ("user", "assistant")]
        if len(body.messages) > 2 * config.max_turns + 1:
            raise TooLong(f"{len(body.messages)} messages: a conversation holds at most {config.max_turns} turns")
        if not messages or messages[-1].role != "user" or not (messages[-1].content or "").strip():
            return JSONResponse({"error": {"message": "the last message must be a non-empty user message",
                                           "code": 422}}, status_code=422)
        snap = live.snapshot()

        def work() -> Any:
            conv = Conversation(snap.reasoner, graph=snap.store)
            pending: str | None = None
            for m in messages[:-1]:
                if m.role == "user" and (m.content or "").strip():
                    if pending is not None:
                        conv.remember(pending, "")
                    pending = m.content
                elif m.role == "assistant" and pending is not None:
                    conv.remember(pending, m.content or "")
                    pending = None
            if pending is not None:
                conv.remember(pending, "")
            return conv.ask(messages[-1].content or "")

        answer = await in_thread(work, config.ask_timeout, "the turn", asks, config.queue_timeout)
        model = body.model or "kgllm-graph"
        rid, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())
        content = answer.cite()
        extra = {"resolved_question": answer.resolved_question, "unresolved": list(answer.unresolved),
                 "supported": answer.supported, "answer": answer.text}
        if not body.stream:
            return JSONResponse({
                "id": rid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, "kgllm": extra})

        def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
            return "data: " + json.dumps({"id": rid, "object": "chat.completion.chunk", "created": created,
                                          "model": model, "choices": [{"index": 0, "delta": delta,
                                                                       "finish_reason": finish}], **more},
                                         ensure_ascii=False) + "\n\n"

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for line in content.splitlines(keepends=True):
                yield chunk({"content": line})
            yield chunk({}, "stop", kgllm=extra)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
