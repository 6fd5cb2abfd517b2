"""Crash safety: a real ``kgllm jobs run`` process killed with SIGKILL at random moments, then run again, leaves
the graph exactly as an uninterrupted run does (no fact lost or duplicated, ledger consistent), on the embedded
SQLite store and on a real Neo4j server.

Each trial updates a graph built from a first version of a corpus to a second version (documents changed,
deleted and added, so kills land in retractions and in re-ingestion too): one or two job processes are killed
after a random number of committed documents plus a random delay, then the job runs to the end, and the
canonical dump is compared with an uninterrupted update's. Seeds rotate by day (``KGLLM_CRASH_SEED`` fixes
the base; ``KGLLM_CRASH_TRIALS`` runs more trials per store), so the suite's runs cover new moments over time;
a failing trial prints its seed.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kgllm.jobs import Job
from kgllm.stores.ledger import canonical_dump
from kgllm.stores.memory import MemoryStore
from tests.conformance.conftest import neo4j_server, neo4j_store  # noqa: F401 - the real Neo4j fixture

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASE_SEED = int(os.environ.get("KGLLM_CRASH_SEED", datetime.date.today().toordinal()))
TRIALS = int(os.environ.get("KGLLM_CRASH_TRIALS", "0"))

FIRST = ["Tarn", "Mira", "Pell", "Ardis", "Hesk", "Olna", "Brivo", "Senna", "Kell", "Yuna"]
LAST = ["Vellen", "Toskar", "Arnow", "Quillby", "Dravik", "Mornay"]
PLACES = ["Orsk", "Ilvaria", "Quenmar", "Talbury", "Nesh", "Corvain"]
ORGS = ["Helcor", "Brannix Labs", "Ostry Mills", "Vantel Group"]


def _doc(rng: random.Random) -> str:
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    last = person.split()[1]
    org, place, other = rng.choice(ORGS), rng.choice(PLACES), rng.choice(PLACES)
    return (f"{person} was born in {place}. {last} works for {org}. "
            f"{org} is based in {other}. {place} is located in {rng.choice(PLACES)}.\n")


def corpus(version: int) -> dict[str, str]:
    """Version 1: 14 documents; version 2: 4 changed, 3 deleted, 4 added."""
    rng = random.Random(7)
    docs = {f"doc{i:02d}.txt": _doc(rng) for i in range(14)}
    if version == 2:
        for i in (1, 5, 8, 12):
            docs[f"doc{i:02d}.txt"] = _doc(rng)
        for i in (3, 9, 13):
            del docs[f"doc{i:02d}.txt"]
        docs.update({f"new{i}.txt": _doc(rng) for i in range(4)})
    return docs


def set_corpus(folder: Path, version: int) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, text in corpus(version).items():
        (folder / name).write_text(text, encoding="utf-8")


def write_spec(tmp: Path, store: str) -> Path:
    spec = tmp / "job.yaml"
    spec.write_text(f"name: crash\nsources:\n  - folder: texts\nstore: {store}\nbatch_size: 3\n", encoding="utf-8")
    return spec


def kill_at_random(spec: Path, rng: random.Random, env: dict[str, str]) -> str:
    """Start ``kgllm jobs run SPEC``, SIGKILL it after a random number of committed documents (and retractions)
    plus a random delay; say when it was killed."""
    after = rng.randint(0, 9)
    delay = rng.uniform(0.0, 0.05)
    proc = subprocess.Popen([sys.executable, "-m", "kgllm.cli", "jobs", "run", str(spec), "--log-stderr"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    seen = threading.Semaphore(0)
    lines: list[str] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if '"event": "document_' in line or '"event": "run_started"' in line:
                seen.release()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for _ in range(after + 1):  # run_started, then `after` documents written or retracted
        while not seen.acquire(timeout=0.1):
            if proc.poll() is not None:
                break
        if proc.poll() is not None:
            break
    time.sleep(delay)
    finished = proc.poll() is not None
    if not finished:
        proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    reader.join(5)
    assert finished or proc.returncode == -signal.SIGKILL, "".join(lines)[-2000:]
    return "finished before the kill" if finished else f"killed after {after} events + {delay * 1000:.0f} ms"


def child_env(password: str | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    if password:
        env["NEO4J_PASSWORD"] = password
    return env


def seeds(n: int) -> list[int]:
    return [BASE_SEED * 100 + i for i in range(max(n, TRIALS))]


# ------------------------------------------------------------------------------------------- SQLite store
@pytest.fixture(scope="module")
def sqlite_reference(tmp_path_factory):
    """A work folder, the first version's graph file and the dump of an uninterrupted update to the second version.

    Trials run in the same folder (the ledger records where each document came from).
    """
    tmp = tmp_path_factory.mktemp("crash-sqlite")
    set_corpus(tmp / "texts", 1)
    spec = write_spec(tmp, "graph.sqlite")
    Job.from_file(spec).run()
    first = tmp / "first.sqlite.copy"
    shutil.copy(tmp / "graph.sqlite", first)
    set_corpus(tmp / "texts", 2)
    run = Job.from_file(spec).run()
    assert run.status == "ok" and (run.counts["changed"], run.counts["deleted"], run.counts["new"]) == (4, 3, 4)
    store = MemoryStore.open(tmp / "graph.sqlite")
    dump = canonical_dump(store)
    store.close()
    assert dump.count("\nD ") == 15
    return tmp, first, dump


@pytest.mark.parametrize("seed", seeds(1))
def test_sqlite_job_killed_at_random_moments_ends_as_an_uninterrupted_run(sqlite_reference, seed):
    work, first, expected = sqlite_reference
    rng = random.Random(seed)
    for p in work.glob("graph.sqlite*"):
        p.unlink()
    shutil.copy(first, work / "graph.sqlite")
    spec = write_spec(work, "graph.sqlite")
    kills = [kill_at_random(spec, rng, child_env()) for _ in range(2)]
    print(f"seed {seed}: {kills}")
    final = Job.from_file(spec).run()
    assert final.status == "ok" and not final.errors, final.errors
    store = MemoryStore.open(work / "graph.sqlite")
    try:
        assert canonical_dump(store) == expected, f"seed {seed}: {kills}"
        statuses = [r.status for r in store.runs("crash")]
        assert statuses[0] == "ok" and "running" not in statuses   # killed runs are marked interrupted
    finally:
        store.close()


# -------------------------------------------------------------------------------------------- Neo4j store
@pytest.fixture(scope="module")
def neo4j_reference(neo4j_server, neo4j_store, tmp_path_factory):  # noqa: F811 - fixtures imported above
    tmp = tmp_path_factory.mktemp("crash-neo4j")
    set_corpus(tmp / "texts", 1)
    neo4j_store.clear()
    spec = write_spec(tmp, neo4j_server.uri)
    Job.from_file(spec, store=neo4j_store).run()
    set_corpus(tmp / "texts", 2)
    assert Job.from_file(spec, store=neo4j_store).run().status == "ok"
    return tmp, canonical_dump(neo4j_store)


@pytest.mark.parametrize("seed", seeds(2))
def test_neo4j_job_killed_at_random_moments_ends_as_an_uninterrupted_run(neo4j_server, neo4j_store,  # noqa: F811
                                                                        neo4j_reference, seed):
    work, expected = neo4j_reference
    rng = random.Random(seed)
    neo4j_store.clear()
    set_corpus(work / "texts", 1)
    spec = write_spec(work, neo4j_server.uri)
    Job.from_file(spec, store=neo4j_store).run()
    set_corpus(work / "texts", 2)
    password = neo4j_server.auth[1] if neo4j_server.auth else None
    kills = [kill_at_random(spec, rng, child_env(password))]
    print(f"seed {seed}: {kills}")
    final = Job.from_file(spec, store=neo4j_store).run()
    assert final.status == "ok" and not final.errors, final.errors
    assert canonical_dump(neo4j_store) == expected, f"seed {seed}: {kills}"
    assert "running" not in [r.status for r in neo4j_store.runs("crash")]


def test_the_daemon_stops_cleanly_on_sigterm(tmp_path):
    set_corpus(tmp_path / "texts", 1)
    spec = tmp_path / "job.yaml"
    spec.write_text("name: daemon\nsources:\n  - folder: texts\nstore: graph.sqlite\nschedule: '0 3 * * *'\n",
                    encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "kgllm.cli", "jobs", "schedule", str(spec), "--run-now"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)
    events = []
    for line in proc.stderr:
        if not line.startswith("{"):
            continue
        events.append(json.loads(line))
        if events[-1]["event"] == "document_ingested":
            proc.send_signal(signal.SIGTERM)   # mid-run: the run ends after its document, the daemon exits
    assert proc.wait(60) == 0                                        # a clean exit
    names = [e["event"] for e in events]
    assert names[0] == "job_scheduled" and names[-1] == "daemon_stopped"
    # What must hold whatever the timing (the run may end before or after the daemon notices the signal): the run
    # that was going finishes and is recorded, no run starts after the signal, and the daemon stops after the run.
    signalled = names.index("signal")
    assert names.count("run_started") == 1 and names.index("run_started") < signalled
    finished = [e for e in events if e["event"] == "run_finished"]
    assert len(finished) == 1 and finished[0]["status"] in ("interrupted", "ok")
    assert names.index("run_finished") < names.index("daemon_stopped")
    store = MemoryStore.open(tmp_path / "graph.sqlite")
    runs = store.runs("daemon")
    assert [(r.run_id, r.status) for r in runs] == [(finished[0]["run_id"], finished[0]["status"])]
    assert runs[0].ended_at is not None
    store.close()
