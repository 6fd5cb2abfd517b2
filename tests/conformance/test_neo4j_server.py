"""Neo4j-only behaviour: a crash during a bulk load, restart and resume; migration; the server helpers;
the revision shared between connections; READ transactions behind the read-only check."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import pytest

from kgllm.errors import ConfigError, InputError, StoreError
from kgllm.stores.memory import MemoryStore
from kgllm.stores.migrate import copy_store
from kgllm.types import Entity, Fact, GraphDelta, Merge, Provenance

from tests.conformance.test_store_conformance import CURIE, EXTRA, TWO_CURIES, snapshot


def bulk_delta(n_facts: int, seed: int = 7) -> GraphDelta:
    """``n_facts`` synthetic facts; one in ten repeats an earlier fact with a new source (provenance merging)."""
    rng = random.Random(seed)
    n_entities = max(n_facts // 4, 10)
    relations = [f"rel_{i}" for i in range(12)]
    entities = [Entity(f"entity {i}", f"Entity {i}", rng.choice(["PERSON", "GPE", "ORG", ""]),
                       (f"E{i}",) if i % 5 == 0 else ()) for i in range(0, n_entities, 3)]
    facts: list[Fact] = []
    for i in range(n_facts):
        p = Provenance(f"doc{i % 97}", i, 0, 40, "bulk", f"sentence {i}")
        if facts and i % 10 == 0:
            old = facts[rng.randrange(len(facts))]
            facts.append(Fact(old.subject, old.relation, old.object, rng.random(), (p,)))
        else:
            s, o = rng.randrange(n_entities), rng.randrange(n_entities)
            facts.append(Fact(f"entity {s}", rng.choice(relations), f"entity {o}", round(rng.random(), 3), (p,)))
    return GraphDelta(entities=entities, facts=facts)


def fact_set(store) -> list[tuple]:
    """Every fact with its confidence and provenances, order-independent."""
    return sorted((f.subject, f.relation, f.object, f.confidence, tuple(tuple(p.to_dict().values()) for p in f.provenance))
                  for f in store.facts())


def test_kill_during_bulk_load_then_restart_and_resume(neo4j_server, neo4j_store):
    from kgllm.stores.neo4j import Neo4jStore

    neo4j_store.clear()
    delta = bulk_delta(20_000)
    reference = MemoryStore()
    reference.upsert(delta)

    store = Neo4jStore.connect(neo4j_server.uri, auth=neo4j_server.auth, batch_size=1000, retry_timeout=3.0)
    killed: list[int] = []

    def on_batch(kind: str, done: int, total: int) -> None:
        if kind == "facts" and done >= 4000 and not killed:
            killed.append(done)  # kill while the next batches are in flight
            threading.Timer(0.05, neo4j_server.kill).start()

    store.on_batch = on_batch
    try:
        with pytest.raises(StoreError) as err:
            store.upsert(delta)
        assert killed and not neo4j_server.running
        assert neo4j_server.uri in str(err.value) and "write facts" in str(err.value)

        neo4j_server.start()  # same port, same data folder: recovery from the transaction log
        store.on_batch = None
        partial = store.stats()["facts"]
        assert 0 < partial < reference.stats()["facts"]  # whole batches landed, the rest did not
        store.upsert(delta)  # resume: idempotent re-run
        assert store.stats() == reference.stats()
        assert fact_set(store) == fact_set(reference)  # no duplicates, none missing, same provenances
    finally:
        store.close()
        if not neo4j_server.running:
            neo4j_server.start()


def test_lost_server_raises_store_error_naming_uri():
    from kgllm.stores.neo4j import Neo4jStore
    from kgllm.neo4j_server import free_port

    uri = f"bolt://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=uri.replace(".", r"\.")):
        Neo4jStore.connect(uri, retry_timeout=0.5, connection_timeout=0.5)


def test_migrate_memory_neo4j_memory_roundtrip(tmp_path, neo4j_store):
    neo4j_store.clear()
    original = MemoryStore()
    for d in (TWO_CURIES, CURIE, EXTRA, bulk_delta(500, seed=3)):
        original.upsert(d)
    original.upsert(GraphDelta(merges=[Merge("m. curie", "marie curie", "alias", 0.8, "d2"),
                                       Merge("entity 3", "entity 4", "fuzzy", 0.5)]))
    original.save(tmp_path / "graph.json.gz")
    source = MemoryStore.load(tmp_path / "graph.json.gz")

    assert copy_store(source, neo4j_store, progress=True) == {
        "entities": original.stats()["entities"], "facts": original.stats()["facts"], "merges": 2}
    assert snapshot(neo4j_store) == snapshot(original)
    assert neo4j_store.stats() == original.stats()

    back = MemoryStore()
    copy_store(neo4j_store, back)
    assert snapshot(back) == snapshot(original)
    back.save(tmp_path / "back.json")
    assert snapshot(MemoryStore.load(tmp_path / "back.json")) == snapshot(original)
    # undo records survived the trip
    assert neo4j_store.unmerge("m. curie") and original.unmerge("m. curie")
    assert snapshot(neo4j_store) == snapshot(original)
    with pytest.raises(InputError, match="not empty"):
        copy_store(original, neo4j_store)


def test_stop_background_and_missing_tools(tmp_path, monkeypatch):
    from kgllm import neo4j_server as launcher

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (tmp_path / launcher.PID_FILE).write_text(f"{proc.pid} 7687\n")
    assert launcher.background_status(tmp_path) == (proc.pid, "bolt://127.0.0.1:7687")
    assert launcher.stop_background(tmp_path, timeout=10) is True
    proc.wait(5)
    with pytest.raises(ProcessLookupError):  # gone (stop_background reaped it)
        os.kill(proc.pid, 0)
    assert not (tmp_path / launcher.PID_FILE).exists()
    assert launcher.stop_background(tmp_path) is False and launcher.background_status(tmp_path) is None

    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn
    with pytest.raises(ConfigError, match="java"):
        launcher.build_server()
    with pytest.raises(ConfigError, match="mvn"):
        launcher.start_background(tmp_path / "db")


def test_server_ready_and_clean_stop(neo4j_server):
    log = neo4j_server.log_path.read_text()
    assert "NEO4J READY bolt://127.0.0.1:" in log
    assert neo4j_server.running and neo4j_server.pid
    assert os.path.isdir(neo4j_server.data_dir)
    t = time.monotonic()
    assert neo4j_server.uri.startswith("bolt://127.0.0.1:") and time.monotonic() - t < 1


def test_revision_counts_writes_of_other_connections(neo4j_server, neo4j_store):
    from kgllm.stores.neo4j import Neo4jStore

    neo4j_store.clear()
    before = neo4j_store.revision()
    with Neo4jStore.connect(neo4j_server.uri, auth=neo4j_server.auth, retry_timeout=5.0) as other:
        other.upsert(GraphDelta(facts=[Fact("ada lindqvist", "born_in", "tromso", provenance=(Provenance("d1"),))]))
        assert other.revision() == neo4j_store.revision() != before
    after = neo4j_store.revision()
    neo4j_store.clear()
    assert neo4j_store.revision() != after


def test_query_runs_in_a_read_transaction_even_past_the_guard(neo4j_store, monkeypatch):
    from kgllm.stores.neo4j import cypher

    neo4j_store.clear()
    neo4j_store.upsert(TWO_CURIES)
    before = (snapshot(neo4j_store), neo4j_store.revision())
    monkeypatch.setattr(cypher, "check_read_only", lambda query: None)  # as if the guard missed a write
    with pytest.raises(InputError, match="Cypher query failed"):
        neo4j_store.query('MATCH (a) SET a.name = "overwritten"')
    assert (snapshot(neo4j_store), neo4j_store.revision()) == before
