"""Conversations over HTTP against a real uvicorn server: ``/api/chat`` (and its stream) and the OpenAI-compatible
``/v1/chat/completions``, with the ``openai`` client when installed; bad input: 404, 413, 422 (issue 20)."""

from __future__ import annotations

import json

import httpx
import pytest

from kgllm.explorer import ExplorerConfig
from kgllm.graph import KnowledgeGraph
from kgllm.types import Document
from tests.unit.test_conversation import TEXT
from tests.unit.test_explorer_api import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store():
    kg = KnowledgeGraph()
    kg.ingest([Document("velmora", TEXT)])
    return kg.store


@pytest.fixture(scope="module")
def server(store):
    srv = Server(store, config=ExplorerConfig(request_timeout=120, ask_timeout=300, max_turns=3,
                                              max_conversations=2))
    with srv as client:
        yield srv, client


def test_chat_keeps_the_conversation_on_the_server(server) -> None:
    _, c = server
    first = c.post("/api/chat", json={"question": "Who founded Velmora Bikes?"})
    assert first.status_code == 200, first.text
    body = first.json()
    cid = body["conversation_id"]
    assert body["answer"] == "Ada Lindqvist" and body["turn"] == 1 and body["facts"]
    second = c.post("/api/chat", json={"conversation_id": cid, "question": "Where was she born?"}).json()
    assert second["resolved_question"] == "Where was Ada Lindqvist born?" and second["answer"] == "Tromsø"
    assert second["turn"] == 2 and second["facts"][0]["provenance"]
    with c.stream("POST", "/api/chat/stream", json={"conversation_id": cid, "question": "In which year?"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [(b.split("\n")[0][len("event: "):], json.loads(b.split("data: ", 1)[1]))
                  for b in r.read().decode().strip().split("\n\n")]
    assert [e for e, _ in events][0] == "conversation" and events[-1][0] == "answer"
    assert events[-1][1]["resolved_question"] == "In which year was Ada Lindqvist born?"
    # the conversation holds max_turns (3) turns: a fourth is refused, a new conversation is not
    over = c.post("/api/chat", json={"conversation_id": cid, "question": "Who is her husband?"})
    assert over.status_code == 413 and "turns" in over.json()["error"]["message"]


def test_chat_bad_input(server) -> None:
    _, c = server
    assert c.post("/api/chat", json={"conversation_id": "nope", "question": "Who?"}).status_code == 404
    assert c.post("/api/chat", json={"question": "   "}).status_code == 422
    assert c.post("/api/chat", json={}).status_code == 422
    # the cap: with max_conversations=2, the least recently used conversation is forgotten
    ids = [c.post("/api/chat", json={"question": "Who founded Velmora Bikes?"}).json()["conversation_id"]
           for _ in range(3)]
    assert c.post("/api/chat", json={"conversation_id": ids[0], "question": "Where?"}).status_code == 404
    assert c.post("/api/chat", json={"conversation_id": ids[2], "question": "Where was she born?"}).status_code == 200


MESSAGES = [{"role": "system", "content": "You answer from the graph."},
            {"role": "user", "content": "Who founded Velmora Bikes?"},
            {"role": "assistant", "content": "Ada Lindqvist\n  [1] Ada Lindqvist --found--> Velmora Bikes"},
            {"role": "user", "content": "Where was she born?"}]


def test_openai_chat_completions_with_httpx(server) -> None:
    _, c = server
    r = c.post("/v1/chat/completions", json={"model": "kgllm", "messages": MESSAGES})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    content = body["choices"][0]["message"]["content"]
    assert content.splitlines()[0] == "Tromsø" and "source velmora" in content
    assert body["kgllm"]["resolved_question"] == "Where was Ada Lindqvist born?"
    with c.stream("POST", "/v1/chat/completions", json={"messages": MESSAGES, "stream": True}) as s:
        lines = [l for l in s.read().decode().splitlines() if l.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(l[6:]) for l in lines[:-1]]
    assert "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks) == content
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # bad input: too long a history, no user message at the end, an empty one
    many = [{"role": "user", "content": "Who founded Velmora Bikes?"}] * 8
    assert c.post("/v1/chat/completions", json={"messages": many}).status_code == 413
    assert c.post("/v1/chat/completions", json={"messages": MESSAGES[:3]}).status_code == 422
    assert c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": " "}]}).status_code == 422
    assert c.post("/v1/chat/completions", json={"messages": []}).status_code == 422


def test_openai_python_client(server) -> None:
    openai = pytest.importorskip("openai")
    srv, _ = server
    client = openai.OpenAI(base_url=srv.http.url + "/v1", api_key="unused", timeout=120)
    reply = client.chat.completions.create(model="kgllm", messages=MESSAGES)
    assert reply.choices[0].message.content.splitlines()[0] == "Tromsø"
    pieces = [ch.choices[0].delta.content or "" for ch in
              client.chat.completions.create(model="kgllm", messages=MESSAGES, stream=True) if ch.choices]
    assert "".join(pieces).splitlines()[0] == "Tromsø"
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="kgllm", messages=[{"role": "user", "content": " "}])
    assert err.value.status_code == 422
