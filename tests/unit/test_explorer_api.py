"""The explorer's HTTP API against a real uvicorn server on a loopback port, on the memory store.

The sample graph (written here, about invented people and places) is shared with the browser test, the
schema test and the Neo4j test (:func:`sample_delta`, :func:`Server`).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from kgllm.explorer import ExplorerConfig, create_app
from kgllm.reason.reasoner import Reasoner
from kgllm.server.background import BackgroundServer
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance

pytestmark = pytest.mark.slow

SENTENCES = [  # (subject, type, relation, object, type, sentence)
    ("Ada Lindqvist", "PERSON", "born_in", "Tromsø", "GPE", "Ada Lindqvist was born in Tromsø in a cold winter."),
    ("Ada Lindqvist", "PERSON", "works_for", "Nordlys Instruments", "ORG",
     "Since spring, Ada Lindqvist works for Nordlys Instruments."),
    ("Nordlys Instruments", "ORG", "based_in", "Bergen", "GPE", "Nordlys Instruments is based in Bergen."),
    ("Bergen", "GPE", "located_in", "Norway", "GPE", "Bergen lies on the west coast of Norway."),
    ("Tromsø", "GPE", "located_in", "Norway", "GPE", "Tromsø is a town in northern Norway."),
    ("Jonas Berg", "PERSON", "spouse", "Ada Lindqvist", "PERSON", "Jonas Berg married Ada Lindqvist last year."),
    ("Jonas Berg", "PERSON", "born_in", "Uppsala", "GPE", "Jonas Berg grew up in Uppsala, where he was born."),
    ("Uppsala", "GPE", "located_in", "Sweden", "GPE", "Uppsala is a city in Sweden."),
]
ALIASES = {"Ada Lindqvist": ["A. Lindqvist"], "Nordlys Instruments": ["Nordlys"]}


def sample_delta() -> GraphDelta:
    """The sample graph: 8 facts, each read from one sentence of document ``notes``."""
    entities: dict[str, Entity] = {}
    facts = []
    offset = 0
    for i, (s, st, rel, o, ot, sentence) in enumerate(SENTENCES):
        for name, typ in ((s, st), (o, ot)):
            entities.setdefault(name, Entity.from_name(name, typ, ALIASES.get(name, ())))
        p = Provenance("notes", i, offset, offset + len(sentence), "rules", sentence)
        offset += len(sentence) + 1
        facts.append(Fact(entities[s].id, rel, entities[o].id, provenance=(p,)))
    return GraphDelta(entities=list(entities.values()), facts=facts)


def sample_store() -> MemoryStore:
    store = MemoryStore()
    store.upsert(sample_delta())
    return store


class Server:
    """``create_app(...)`` served by uvicorn on a free loopback port; a context manager giving an httpx client."""

    def __init__(self, store=None, **kwargs) -> None:
        # Generous time limits unless a test sets its own: the CI machine may be busy (no timed assertions).
        kwargs.setdefault("config", ExplorerConfig(request_timeout=120, ask_timeout=300))
        self.app = create_app(store, **kwargs)
        self.http = BackgroundServer(self.app, port=0)

    def __enter__(self) -> httpx.Client:
        self.http.start()
        self.client = httpx.Client(base_url=self.http.url, timeout=60)
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.http.stop()


FACT_BORN = Fact("ada lindqvist", "born_in", "tromsø").id


@pytest.fixture(scope="module")
def client():
    with Server(sample_store()) as c:
        yield c


# ------------------------------------------------------------------------------------------------ reads
def test_search_ranks_exact_then_prefix_then_words(client):
    body = client.get("/api/search", params={"q": "ada lindqvist"}).json()
    assert body["results"][0]["id"] == "ada lindqvist" and body["results"][0]["score"] == 3.0
    assert [r["id"] for r in client.get("/api/search", params={"q": "a. lindqvist"}).json()["results"]][:1] \
        == ["ada lindqvist"]  # an alias
    prefix = client.get("/api/search", params={"q": "nord"}).json()["results"]
    assert prefix[0]["id"] == "nordlys instruments" and prefix[0]["type"] == "ORG"
    words = [r["id"] for r in client.get("/api/search", params={"q": "berg"}).json()["results"]]
    assert words[0] == "bergen" or words[0] == "jonas berg"
    assert set(words[:2]) == {"bergen", "jonas berg"}
    assert client.get("/api/search", params={"q": "zzzz"}).json()["results"] == []


def test_entity_detail_and_unknown_entity(client):
    body = client.get("/api/entity", params={"id": "ada lindqvist"}).json()
    assert body["name"] == "Ada Lindqvist" and body["degree"] == 3 and body["aliases"] == ["A. Lindqvist"]
    assert body["relations"] == {"out": {"born_in": 1, "works_for": 1}, "in": {"spouse": 1}}
    missing = client.get("/api/entity", params={"id": "nobody here"})
    assert missing.status_code == 404 and "nobody here" in missing.json()["error"]["message"]


def test_neighbours_filter_and_page(client):
    body = client.get("/api/neighbours", params={"id": "norway"}).json()
    assert body["total"] == 2 and {f["subject"] for f in body["facts"]} == {"bergen", "tromsø"}
    assert body["entities"]["bergen"]["name"] == "Bergen"
    page1 = client.get("/api/neighbours", params={"id": "ada lindqvist", "limit": 2}).json()
    page2 = client.get("/api/neighbours", params={"id": "ada lindqvist", "limit": 2, "offset": 2}).json()
    assert page1["next_offset"] == 2 and page2["next_offset"] is None
    assert len({f["id"] for f in page1["facts"] + page2["facts"]}) == 3
    only = client.get("/api/neighbours", params=[("id", "ada lindqvist"), ("relation", "spouse"),
                                                 ("relation", "born_in")]).json()
    assert sorted(f["relation"] for f in only["facts"]) == ["born_in", "spouse"]
    out = client.get("/api/neighbours", params={"id": "ada lindqvist", "direction": "out"}).json()
    assert {f["relation"] for f in out["facts"]} == {"born_in", "works_for"}


def test_paths_between_two_entities(client):
    body = client.get("/api/paths", params={"source": "jonas berg", "target": "tromsø"}).json()
    assert body["paths"][0]["relations"] == ["spouse", "born_in"]
    assert body["paths"][0]["entities"] == ["jonas berg", "ada lindqvist", "tromsø"]
    assert client.get("/api/paths", params={"source": "jonas berg", "target": "tromsø", "max_hops": 1}
                      ).json()["paths"] == []


def test_stats(client):
    body = client.get("/api/stats").json()
    assert body["counts"]["facts"] == 8 and body["counts"]["entities"] == 8
    assert body["relations"][0] == {"relation": "located_in", "facts": 3}
    assert body["degrees"] == [{"bucket": "1", "entities": 1}, {"bucket": "2-3", "entities": 7}]
    assert body["top_entities"][0]["id"] == "ada lindqvist"


def test_fact_provenance_with_highlights(client):
    body = client.get(f"/api/facts/{FACT_BORN}").json()
    p = body["provenance"][0]
    assert (p["doc_id"], p["chunk"], p["start"], p["end"]) == ("notes", 0, 0, len(SENTENCES[0][5]))
    marked = [p["sentence"][s:e] for s, e in p["highlights"]]
    assert marked == ["Ada Lindqvist", "Tromsø"]
    assert client.get("/api/facts/f000").status_code == 404


# ------------------------------------------------------------------------------------------------ Cypher
def test_query_rows_params_and_limits(client):
    body = client.post("/api/query", json={"cypher": "MATCH (a)-[r]->(b) WHERE a.name = $n RETURN b.name",
                                           "params": {"n": "Jonas Berg"}}).json()
    assert sorted(r["b.name"] for r in body["rows"]) == ["Ada Lindqvist", "Uppsala"] and not body["truncated"]
    cut = client.post("/api/query", json={"cypher": "MATCH (a)-[r]->(b) RETURN a.id", "limit": 3}).json()
    assert len(cut["rows"]) == 3 and cut["truncated"] and cut["columns"] == ["a.id"]


@pytest.mark.parametrize("cypher", ["CREATE (a {name: 'x'})", "MATCH (a) SET a.name = 'y'", "MERGE (a {id: 'z'})",
                                    "MATCH (a) DETACH DELETE a", "MATCH (a) REMOVE a.name",
                                    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
                                    "CALL apoc.create.node(['X'], {})", "DROP INDEX foo"])
def test_query_refuses_writes(client, cypher):
    r = client.post("/api/query", json={"cypher": cypher})
    assert r.status_code == 400 and "read-only" in r.json()["error"]["message"]
    assert client.get("/api/stats").json()["counts"]["facts"] == 8


def test_query_timeout_and_row_cap():
    class Slow(MemoryStore):
        release = threading.Event()

        def query(self, cypher, params=None, limit=1000):
            if (params or {}).get("block"):
                self.release.wait(30)
            return super().query(cypher, params, limit)

    store = Slow()
    store.upsert(sample_delta())
    with Server(store, config=ExplorerConfig(query_timeout=5, max_rows=2, warm_reasoner=False)) as c:
        r = c.post("/api/query", json={"cypher": "MATCH (a) RETURN a.id", "params": {"block": True}})
        assert r.status_code == 408 and "5 s limit" in r.json()["error"]["message"]
        capped = c.post("/api/query", json={"cypher": "MATCH (a) RETURN a.id", "limit": 50}).json()
        assert len(capped["rows"]) == 2 and capped["truncated"], capped
        Slow.release.set()


# ------------------------------------------------------------------------------------------------ ask
def test_ask_answers_with_cited_facts_and_subgraph(client):
    body = client.post("/api/ask", json={"question": "Where was Ada Lindqvist born?"}).json()
    assert body["supported"] and body["answer"] == "Tromsø" and body["answer_entities"] == ["tromsø"]
    assert [f["id"] for f in body["facts"]] == [FACT_BORN]
    assert body["facts"][0]["provenance"][0]["sentence"] == SENTENCES[0][5]
    assert "ada lindqvist" in body["subgraph"]["seeds"]
    assert FACT_BORN in {f["id"] for f in body["subgraph"]["facts"]}
    unknown = client.post("/api/ask", json={"question": "Who painted the blue door?"}).json()
    assert unknown["supported"] is False and unknown["facts"] == []


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_ask_stream_sends_tokens_then_the_answer():
    class Streaming:
        def __init__(self, store) -> None:
            self.inner = Reasoner(store, llm=None)

        def ask(self, question, on_token=None):
            for piece in ("Trom", "sø"):
                on_token(piece)
            return self.inner.ask(question)

    with Server(sample_store(), reasoner_factory=Streaming) as c:
        with c.stream("POST", "/api/ask/stream", json={"question": "Where was Ada Lindqvist born?"}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _events(r.read().decode())
    assert [e for e, _ in events] == ["token", "token", "answer"]
    assert "".join(d["text"] for e, d in events if e == "token") == "Tromsø"
    assert events[-1][1]["facts"][0]["id"] == FACT_BORN


def test_errors_are_clear_and_hide_internals():
    class Broken:
        def __init__(self, store) -> None:
            pass

        def ask(self, question, on_token=None):
            raise RuntimeError("secret internal detail")

    with Server(sample_store(), reasoner_factory=Broken, config=ExplorerConfig(max_body_bytes=2000, request_timeout=120)) as c:
        r = c.post("/api/ask", json={"question": "Where?"})
        assert r.status_code == 500 and "secret" not in r.text and "Traceback" not in r.text
        assert "RuntimeError" in r.json()["error"]["message"]
        streamed = _events(c.post("/api/ask/stream", json={"question": "Where?"}).text)
        assert streamed[-1][0] == "error" and "secret" not in json.dumps(streamed)
        bad = c.post("/api/ask", json={"question": "", "extra": 1})
        assert bad.status_code == 422
        message = bad.json()["error"]["message"]
        assert "question" in message and "extra" in message
        assert c.post("/api/query", content=b"{not json", headers={"content-type": "application/json"}
                      ).status_code == 422
        assert c.post("/api/query", json={"cypher": "RETURN 1", "params": {"p": [1, 2]}}).status_code == 422
        assert c.get("/api/neighbours", params={"id": "bergen", "limit": 10_000}).status_code == 422
        assert c.post("/api/query", json={"cypher": "x" * 5000}).status_code == 413


def test_token_guards_the_api_not_the_page():
    with Server(sample_store(), token="s3cret-token") as c:
        assert c.get("/api/stats").status_code == 401
        assert c.get("/openapi.json").status_code == 401
        assert c.get("/api/stats", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        assert c.get("/api/stats", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert c.get("/health").status_code == 200
        page = c.get("/")
        assert page.status_code == 200 and "cytoscape.min.js" in page.text
        assert c.get("/static/vendor/cytoscape.min.js").status_code == 200


# ------------------------------------------------------------------------------------------------ live graph
def _wait_for(fn, what: str, deadline: float = 20.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_graph_file_rewritten_on_disk_is_served_without_restart(tmp_path: Path):
    path = tmp_path / "graph.json"
    store = sample_store()
    store.save(path)
    with Server(graph_file=path, config=ExplorerConfig(check_interval=0.05, request_timeout=120)) as c:
        assert c.get("/api/search", params={"q": "Kari Holm"}).json()["results"] == []
        writer = MemoryStore.load(path)
        writer.upsert(GraphDelta(entities=[Entity.from_name("Kari Holm", "PERSON")],
                                 facts=[Fact("kari holm", "born_in", "bergen")]))
        writer.save(path)
        found = _wait_for(lambda: c.get("/api/search", params={"q": "Kari Holm"}).json()["results"], "reload")
        assert found[0]["id"] == "kari holm"
        assert c.get("/api/stats").json()["counts"]["facts"] == 9
        path.write_text("{ half written", encoding="utf-8")  # a broken file: the last good graph stays
        time.sleep(0.3)
        assert c.get("/api/stats").json()["counts"]["facts"] == 9


def test_in_process_store_writes_are_seen():
    store = sample_store()
    with Server(store) as c:
        assert c.get("/api/search", params={"q": "Kari"}).json()["results"] == []
        store.upsert(GraphDelta(facts=[Fact("kari holm", "lives_in", "bergen")]))
        assert c.get("/api/search", params={"q": "Kari"}).json()["results"][0]["id"] == "kari holm"


# ------------------------------------------------------------------------------------------------ issue 22
def test_host_names_it_does_not_listen_on_are_refused():
    with Server(sample_store()) as c:
        assert c.get("/api/stats").status_code == 200                           # 127.0.0.1:port
        assert c.get("/health", headers={"Host": "localhost:8765"}).status_code == 200
        for evil in ("attacker.example", "attacker.example:8765", "127.0.0.1.attacker.example"):
            r = c.get("/api/stats", headers={"Host": evil})
            assert r.status_code == 400 and "DNS rebinding" in r.json()["error"]["message"]
            assert c.get("/", headers={"Host": evil}).status_code == 400
    with Server(sample_store(), config=ExplorerConfig(hosts=("127.0.0.1", "kg.example.org"))) as c:
        assert c.get("/api/stats", headers={"Host": "KG.example.org:443"}).status_code == 200
        assert c.get("/api/stats", headers={"Host": "localhost"}).status_code == 400


def test_malformed_json_and_cypher_errors_say_what_and_where(client):
    r = client.post("/api/query", content=b'{"cypher": "RETURN 1",\n  oops}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == ("the request body is not valid JSON: Expecting property name enclosed in "
                                            "double quotes at line 2, column 3")
    bad = client.post("/api/query", json={"cypher": "MATCH (a)-[r]->(b)\nRETRN b.name"})
    message = bad.json()["error"]["message"]
    assert bad.status_code == 400 and "unexpected 'RETRN' at line 2, column 1" in message
    assert "RETURN" in message and "Token(" not in message and "__ANON" not in message


def test_a_graph_file_is_queried_live_and_reopened_only_when_replaced(tmp_path: Path):
    path = tmp_path / "graph.sqlite"
    writer = MemoryStore.open(path, create=True)
    writer.upsert(sample_delta())
    with Server(graph_file=path, config=ExplorerConfig(check_interval=0.05, request_timeout=120,
                                                       warm_reasoner=False)) as c:
        assert c.get("/api/search", params={"q": "lindq"}).json()["results"][0]["id"] == "ada lindqvist"
        writer.upsert(GraphDelta(entities=[Entity.from_name("Kari Holm", "PERSON")],
                                 facts=[Fact("kari holm", "born_in", "bergen")]))
        found = c.get("/api/search", params={"q": "Kari Holm"}).json()["results"]  # at once: no reload
        assert found[0]["id"] == "kari holm" and found[0]["degree"] == 1
        stats = c.get("/api/stats").json()
        assert stats["counts"]["facts"] == 9 and stats["reloads"] == 0
        assert {"relation": "born_in", "facts": 3} in stats["relations"]
        replacement = MemoryStore()                                          # a new file renamed over it
        replacement.upsert(GraphDelta(facts=[Fact("oda vestre", "lives_in", "molde")]))
        replacement.save(path)
        _wait_for(lambda: c.get("/api/stats").json()["counts"]["facts"] == 1, "reopen")
        assert c.get("/api/stats").json()["reloads"] == 1


def test_questions_are_answered_together_and_as_one_at_a_time():
    questions = ["Where was Ada Lindqvist born?", "Where was Jonas Berg born?", "Where is Nordlys Instruments based?"]
    alone = [Reasoner(sample_store(), llm=None).ask(q).text for q in questions]
    together = threading.Barrier(len(questions), timeout=60)

    class Meeting:
        """Answers only once every question is being answered: asked one at a time, the barrier breaks."""

        def __init__(self, store) -> None:
            self.inner = Reasoner(store, llm=None)

        def ask(self, question, on_token=None):
            together.wait()
            return self.inner.ask(question)

    with Server(sample_store(), reasoner_factory=Meeting,
                config=ExplorerConfig(ask_concurrency=len(questions), request_timeout=120, ask_timeout=120)) as c:
        answers: dict[str, str] = {}

        def ask(q: str) -> None:
            answers[q] = c.post("/api/ask", json={"question": q}).json()["answer"]

        threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [answers[q] for q in questions] == alone == ["Tromsø", "Uppsala", "Bergen"]


def test_between_gives_the_facts_among_entities_on_screen(client):
    body = client.get("/api/between", params=[("id", "ada lindqvist"), ("id", "tromsø"), ("id", "norway"),
                                              ("id", "sweden")]).json()
    assert sorted((f["subject"], f["relation"], f["object"]) for f in body["facts"]) == [
        ("ada lindqvist", "born_in", "tromsø"), ("tromsø", "located_in", "norway")]
    assert body["entities"]["tromsø"]["name"] == "Tromsø"
    assert client.get("/api/between").status_code == 422
