"""The explorer's JSON API: search, entities, neighbours, paths, statistics, fact provenance, Cypher, ask.

Each handler takes the current :class:`~kgllm.explorer.live.Snapshot` of the graph (so a graph file
rewritten by a job is served without a restart) and runs its store work in a worker thread under a
time limit (``408`` past it).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Query
from fastapi.responses import Response, StreamingResponse

from kgllm.errors import NotFoundError
from kgllm.explorer.ask import answer_view, stream_answer
from kgllm.explorer.limits import in_thread
from kgllm.explorer.live import LiveGraph, Snapshot
from kgllm.explorer.models import AskRequest, ExplorerConfig, QueryRequest
from kgllm.explorer.views import degree_histogram, entity_view, fact_view, path_view, provenance_view

__all__ = ["add_routes"]


def as_json(content: Any) -> Response:
    """``content`` as a JSON response, serialized once (FastAPI's encoder walks every value again)."""
    return Response(json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(),
                    media_type="application/json")


def _entity_id(what: str = "An entity id") -> Any:
    return Query(min_length=1, max_length=500, description=f"{what} (as /api/search returns it).")


def _entity(snap: Snapshot, entity_id: str) -> Any:
    entity = snap.store.get_entity(entity_id)
    if entity is None:
        raise NotFoundError(f"no entity with id {entity_id!r}: find ids with /api/search?q=...")
    return entity


def _names(snap: Snapshot, ids: set[str]) -> dict[str, dict[str, Any]]:
    many, degrees = getattr(snap.store, "get_entities", None), getattr(snap.store, "degrees", None)
    found = many(ids) if callable(many) else {eid: e for eid in ids if (e := snap.store.get_entity(eid)) is not None}
    known = degrees(found) if snap.index is None and callable(degrees) else None
    return {eid: entity_view(found[eid], known.get(eid, 0) if known is not None else snap.degree(eid))
            for eid in sorted(found)}


def add_routes(app: FastAPI, live: LiveGraph, config: ExplorerConfig) -> None:  # noqa: C901 (one route each)
    """Register the ``/api/`` routes on ``app``."""
    queries = anyio.CapacityLimiter(config.query_concurrency)
    asks = anyio.CapacityLimiter(config.ask_concurrency)
    limit = config.request_timeout

    @app.get("/api/search", response_model=dict[str, Any],
             tags=["graph"], summary="Entities whose names or aliases match, best first.")
    async def search(q: str = Query(min_length=1, max_length=200, description="Words of a name or alias."),
                     limit_: int = Query(20, alias="limit", ge=1, le=100)) -> Response:
        def work() -> list[dict[str, Any]]:
            return [entity_view(e, degree, score) for e, score, degree in live.snapshot().search(q, limit_)]
        return as_json({"query": q, "results": await in_thread(work, limit, "search")})

    @app.get("/api/entity", response_model=dict[str, Any],
             tags=["graph"], summary="One entity: names, type, degree, relations around it.")
    async def entity(id: str = _entity_id()) -> Response:
        def work() -> dict[str, Any]:
            snap = live.snapshot()
            e = _entity(snap, id)
            facts = snap.store.neighbors(e.id, "both")
            out_rel: dict[str, int] = {}
            in_rel: dict[str, int] = {}
            for f in facts:
                side = out_rel if f.subject == e.id else in_rel
                side[f.relation] = side.get(f.relation, 0) + 1
            return {**entity_view(e, len(facts)), "relations": {"out": out_rel, "in": in_rel}}
        return as_json(await in_thread(work, limit, "entity"))

    @app.get("/api/neighbours", response_model=dict[str, Any],
             tags=["graph"], summary="Facts around an entity, filtered and paged.")
    async def neighbours(id: str = _entity_id(),
                         relation: list[str] = Query([], max_length=50, description="Only these relations."),
                         direction: Literal["out", "in", "both"] = Query("both"),
                         limit_: int = Query(50, alias="limit", ge=1, le=500),
                         offset: int = Query(0, ge=0, le=1_000_000)) -> Response:
        def work() -> dict[str, Any]:
            snap = live.snapshot()
            e = _entity(snap, id)
            paged = getattr(snap.store, "neighbors_page", None)
            if callable(paged):  # the store reads only the page
                total, page = paged(e.id, direction, relation, offset, limit_)
            else:
                facts = snap.store.neighbors(e.id, direction)
                if relation:
                    wanted = set(relation)
                    facts = [f for f in facts if f.relation in wanted]
                facts.sort(key=lambda f: (f.relation, f.subject, f.object))
                total, page = len(facts), facts[offset:offset + limit_]
            ends = {x for f in page for x in (f.subject, f.object)} | {e.id}
            nxt = offset + limit_ if offset + limit_ < total else None
            names = _names(snap, ends)
            return {"entity": names.get(e.id) or entity_view(e, snap.degree(e.id)), "total": total, "offset": offset,
                    "limit": limit_, "next_offset": nxt, "facts": [fact_view(f) for f in page],
                    "entities": names}
        return as_json(await in_thread(work, limit, "neighbours"))

    @app.get("/api/between", response_model=dict[str, Any],
             tags=["graph"], summary="The facts between entities (both ends among the ids given).")
    async def between(id: list[str] = Query(..., min_length=1, max_length=200,
                                            description="Entity ids (as /api/search returns them).")
                      ) -> Response:
        def work() -> dict[str, Any]:
            snap = live.snapshot()
            ids = set(id)
            finder = getattr(snap.store, "facts_between", None)
            if callable(finder):
                facts = finder(ids)
            else:
                facts = [f for eid in sorted(ids) for f in snap.store.neighbors(eid, "out") if f.object in ids]
            facts = facts[:config.max_subgraph_facts]
            return {"facts": [fact_view(f) for f in facts],
                    "entities": _names(snap, {x for f in facts for x in (f.subject, f.object)})}
        return as_json(await in_thread(work, limit, "between"))

    @app.get("/api/paths", response_model=dict[str, Any],
             tags=["graph"], summary="Simple paths between two entities, shortest first.")
    async def paths(source: str = _entity_id("The first entity's id"),
                    target: str = _entity_id("The other entity's id"), max_hops: int = Query(3, ge=1, le=4),
                    limit_: int = Query(10, alias="limit", ge=1, le=50)) -> Response:
        def work() -> dict[str, Any]:
            snap = live.snapshot()
            a, b = _entity(snap, source), _entity(snap, target)
            found = snap.store.paths(a.id, b.id, max_hops=max_hops, limit=limit_)
            ends = {x for p in found for x in p.entities} | {a.id, b.id}
            return {"source": a.id, "target": b.id, "paths": [path_view(p) for p in found],
                    "entities": _names(snap, ends)}
        return as_json(await in_thread(work, limit, "paths"))

    @app.get("/api/stats", response_model=dict[str, Any],
             tags=["graph"], summary="Counts, relation histogram, degree distribution.")
    async def stats(top: int = Query(10, ge=0, le=100, description="How many of the best-connected entities.")
                    ) -> Response:
        def work() -> dict[str, Any]:
            snap = live.snapshot()
            derived = snap.stats
            return {"counts": snap.store.stats(), "reloads": live.reloads,
                    "relations": [{"relation": r, "facts": n} for r, n in derived.relations.most_common()],
                    "degrees": degree_histogram(derived.degree_counts),
                    "top_entities": [entity_view(e, d) for e, d in derived.hubs[:top]]}
        return as_json(await in_thread(work, max(limit, config.query_timeout), "stats"))

    @app.get("/api/facts/{fact_id}", response_model=dict[str, Any],
             tags=["graph"],
             summary="One fact with its sources: document, sentence, span, highlighted names.")
    async def fact(fact_id: str) -> Response:
        def work() -> dict[str, Any]:
            snap = live.snapshot()
            f = snap.store.get_fact(fact_id) if len(fact_id) <= 64 else None
            if f is None:
                raise NotFoundError(f"no fact with id {fact_id!r}: fact ids come with /api/neighbours")
            ends = [snap.store.get_entity(f.subject), snap.store.get_entity(f.object)]
            return {**fact_view(f), "provenance": [provenance_view(p, ends) for p in f.provenance],
                    "entities": {e.id: entity_view(e) for e in ends if e is not None}}
        return as_json(await in_thread(work, limit, "fact"))

    @app.post("/api/query", response_model=dict[str, Any],
             tags=["query"], summary="Run one read-only Cypher query (writes are refused).")
    async def query(body: QueryRequest) -> Response:
        rows_max = min(body.limit, config.max_rows)

        def work() -> dict[str, Any]:
            started = time.perf_counter()
            rows = live.snapshot().store.query(body.cypher, dict(body.params), limit=rows_max + 1)
            columns = list(dict.fromkeys(k for row in rows for k in row))
            return {"columns": columns, "rows": rows[:rows_max], "truncated": len(rows) > rows_max,
                    "elapsed_ms": round((time.perf_counter() - started) * 1000, 2)}
        return as_json(await in_thread(work, config.query_timeout, "the Cypher query", queries, config.queue_timeout))

    @app.post("/api/ask", response_model=dict[str, Any],
             tags=["ask"], summary="Answer a question from the graph: answer, cited facts, subgraph.")
    async def ask(body: AskRequest) -> Response:
        def work() -> dict[str, Any]:
            snap = live.snapshot()
            return answer_view(snap.ask(body.question), config.max_subgraph_facts)
        return as_json(await in_thread(work, config.ask_timeout, "the question", asks, config.queue_timeout))

    @app.post("/api/ask/stream", tags=["ask"], response_class=StreamingResponse,
              summary="Like /api/ask, as server-sent events: 'token' pieces, then 'answer' (or 'error').")
    async def ask_stream(body: AskRequest) -> StreamingResponse:
        return StreamingResponse(stream_answer(live, body.question, config, asks), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
