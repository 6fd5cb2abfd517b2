"""Questions for the explorer: an :class:`~kgllm.types.Answer` as JSON, and its server-sent-event stream.

The stream sends ``event: token`` with ``{"text": piece}`` as the language model writes (a graph-only
reasoner writes nothing, so its whole answer comes as one token), then ``event: answer`` with the same
JSON as ``POST /api/ask``, or ``event: error`` with ``{"error": {"message", "code"}}``.

Examples
--------
>>> from kgllm.types import Answer
>>> answer_view(Answer.unsupported("Who?", "nothing is known"))["supported"]
False
>>> sse("token", {"text": "Oslo"})
'event: token\\ndata: {"text": "Oslo"}\\n\\n'
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator

import anyio

from kgllm.errors import InputError, KgllmError, NotFoundError, StoreError
from kgllm.explorer.limits import Busy, in_thread
from kgllm.explorer.views import entity_view, fact_view, path_view, provenance_view
from kgllm.types import Answer

__all__ = ["answer_view", "stream_answer", "sse"]

log = logging.getLogger("kgllm.explorer")


def answer_view(answer: Answer, max_facts: int = 300) -> dict[str, Any]:
    """The answer, the facts it cites (with their sources) and the subgraph it was drawn from (capped)."""
    sub = answer.subgraph
    ents = sub.entities if sub is not None else {}
    cited = [{**fact_view(f), "provenance": [provenance_view(p, [ents.get(f.subject), ents.get(f.object)])
                                             for p in f.provenance]} for f in answer.facts]
    subgraph: dict[str, Any] = {"seeds": [], "entities": [], "facts": [], "paths": [], "truncated": False}
    if sub is not None:
        cited_ids = {f.id for f in answer.facts}
        facts = [f for f in answer.facts] + [f for f in sub.facts if f.id not in cited_ids]
        kept = facts[:max_facts]
        touched = {x for f in kept for x in (f.subject, f.object)} | set(sub.seeds)
        subgraph = {"seeds": list(sub.seeds), "facts": [fact_view(f) for f in kept],
                    "entities": [entity_view(e) for eid, e in sub.entities.items() if eid in touched],
                    "paths": [path_view(p) for p in sub.paths[:10]], "truncated": len(facts) > len(kept)}
    return {"question": answer.question, "answer": answer.text, "supported": answer.supported,
            "confidence": answer.confidence, "generated": answer.generated,
            "answer_entities": list(answer.entities[:1]), "candidates": list(answer.entities[:10]),
            "facts": cited, "subgraph": subgraph,
            **({"resolved_question": answer.resolved_question, "unresolved": list(answer.unresolved)}
               if answer.resolved_question is not None else {})}


def sse(event: str, data: Any) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _error_payload(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, NotFoundError):
        code = 404
    elif isinstance(exc, InputError):
        code = 400
    elif isinstance(exc, TimeoutError):
        code = 408
    elif isinstance(exc, StoreError):
        code = 503
    elif isinstance(exc, Busy):
        code = 429
    else:
        code = 500
    if isinstance(exc, (KgllmError, TimeoutError)) or code == 429:
        message = str(exc)
    else:
        log.error("question failed", exc_info=exc)
        message = f"internal error ({type(exc).__name__}); the server log has the details"
    return {"error": {"message": message, "code": code}}


async def stream_answer(live: Any, question: str, config: Any, limiter: anyio.CapacityLimiter
                        ) -> AsyncIterator[str]:
    """Server-sent events for ``question``: tokens as the reasoner produces them, then the answer."""
    send, receive = anyio.create_memory_object_stream[tuple[str, Any]](max_buffer_size=1000)
    streamed = False
    loop = asyncio.get_running_loop()

    def put(piece: str) -> None:
        try:
            send.send_nowait(("token", piece))
        except Exception:  # the client left (stream closed) or too many pieces queued: keep answering
            pass

    def on_token(piece: str) -> None:  # called on the reasoner's thread (or the model's)
        loop.call_soon_threadsafe(put, piece)

    def work() -> Answer:
        return live.snapshot().ask(question, on_token=on_token)

    async def produce() -> None:
        async with send:
            try:
                answer = await in_thread(work, config.ask_timeout, "the question", limiter, config.queue_timeout)
                await send.send(("answer", answer))
            except Exception as exc:
                await send.send(("error", exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        async with receive:
            async for kind, value in receive:
                if kind == "token":
                    streamed = True
                    yield sse("token", {"text": value})
                elif kind == "answer":
                    if not streamed:
                        yield sse("token", {"text": value.text})
                    yield sse("answer", answer_view(value, config.max_subgraph_facts))
                else:
                    yield sse("error", _error_payload(value))
