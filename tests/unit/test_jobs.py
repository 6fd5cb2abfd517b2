"""Jobs: specs validated on load, incremental runs through the ledger, the failure policy, one writer per store."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.errors import ConfigError, NotFoundError, StoreError
from kgllm.jobs import Job, load_spec
from kgllm.stores.ledger import canonical_dump
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance, entity_id

runner = CliRunner()


class LineExtractor:
    """Reads ``subject | relation | object`` lines; counts its calls and the documents it read.

    A line ``boom`` makes the document fail (the extractor raises), like a document that cannot be read.
    """

    name = "lines"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls = 0
        self.read: list[str] = []
        self.gate = gate

    def extract(self, documents, progress=False):
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        delta = GraphDelta()
        for doc in documents:
            if "boom" in doc.text:
                raise ValueError(f"cannot read {doc.id}")
        for doc in documents:
            self.read.append(doc.id)
            for i, line in enumerate(doc.text.splitlines()):
                parts = [p.strip() for p in line.split("|")]
                if len(parts) != 3:
                    continue
                s, r, o = parts
                delta.entities += [Entity(entity_id(s), s), Entity(entity_id(o), o)]
                delta.facts.append(Fact(entity_id(s), r, entity_id(o), provenance=(Provenance(doc.id, i),)))
        return delta


def write_corpus(folder, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def spec_file(tmp_path, extra: str = "", name: str = "job.yaml", sources: str = "  - folder: texts\n"):
    path = tmp_path / name
    path.write_text(f"name: test\nsources:\n{sources}store: graph.sqlite\nextractor:\n  resolve: none\n{extra}",
                    encoding="utf-8")
    return path


CORPUS = {
    "a.txt": "Tarn Vell | born_in | Orsk\n",
    "b.txt": "Orsk | capital_of | Ilvaria\nIlvaria | borders | Quenmar\n",
    "c.txt": "Mira Tosk | works_for | Helcor\n",
}


# ------------------------------------------------------------------------------------------------ specs
@pytest.mark.parametrize("text, expected", [
    ("  - folder: texts\n    globb: '*.txt'\nstore: g.sqlite\n",
     r"job\.yaml:3: unknown key 'sources\[0\]\.globb' \(expected one of: folder, jsonl, tsv, glob"),
    ("  - folder: texts\nstore: g.sqlite\nextractor:\n  mode: fast\n",
     r"job\.yaml:5: extractor\.mode: expected 'rules', 'lm', 'hybrid' or 'trained', got 'fast'"),
    ("  - folder: texts\nstore: g.sqlite\nschedule: 'at noon'\n",
     r"job\.yaml:4: schedule: expected a cron expression of 5 fields"),
    ("  - folder: texts\nstore: g.sqlite\nbatch_size: 0\n", r"job\.yaml:4: batch_size: expected greater than"),
    ("  - folder: texts\nstore: g.json\n", r"store: expected a SQLite graph file"),
    ("  - folder: texts\n    tsv: kb.tsv\nstore: g.sqlite\n", r"expected exactly one of the keys folder, jsonl or tsv"),
    ("  - folder: texts\n", r"job\.yaml: missing key 'store'"),
    ("  - folder: texts\nstore: g.sqlite\nexecutor: {kind: ray, cpus: 2}\n",
     r"unknown key 'executor\.cpus' \(expected one of: kind, address, workers\)"),
])
def test_a_bad_spec_names_the_file_line_key_and_what_was_expected(tmp_path, text, expected):
    path = tmp_path / "job.yaml"
    path.write_text("sources:\n" + text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_spec(path)


def test_spec_paths_are_relative_to_the_spec_file_and_defaults_apply(tmp_path):
    spec = load_spec(spec_file(tmp_path, "schedule: '0 3 * * *'\n"))
    assert spec.sources[0].path == tmp_path / "texts" and spec.store.path == tmp_path / "graph.sqlite"
    assert (spec.batch_size, spec.executor.kind, spec.extractor.mode, spec.schedule) == (64, "local", "rules",
                                                                                         "0 3 * * *")
    with pytest.raises(NotFoundError, match="job spec not found"):
        load_spec(tmp_path / "missing.yaml")


def test_every_example_pipeline_is_valid():
    from pathlib import Path

    import yaml

    specs = sorted((Path(__file__).resolve().parents[2] / "pipelines").glob("*.yaml"))
    assert [p.name for p in specs] == ["demo-neo4j.yaml", "demo-ray.yaml", "demo.yaml"]
    for path in specs:
        spec, raw = load_spec(path), yaml.safe_load(path.read_text(encoding="utf-8"))
        assert spec.name == (raw.get("name") or path.stem)
        assert all(s.path.exists() for s in spec.sources), path          # each points at the checkout's texts
        assert (spec.store.path is None) == ("://" in str(raw["store"]))  # a graph file or a Neo4j URI, as written


# ------------------------------------------------------------------------------------------ incremental
def test_a_run_extracts_only_new_or_changed_documents_and_retracts_deleted_ones(tmp_path):
    write_corpus(tmp_path / "texts", CORPUS)
    store = MemoryStore.open(tmp_path / "graph.sqlite", create=True)
    ex = LineExtractor()
    job = Job.from_file(spec_file(tmp_path), store=store, extractor=ex)
    first = job.run()
    assert (first.status, first.counts["new"], first.counts["facts"]) == ("ok", 3, 4)
    assert sorted(ex.read) == ["a.txt", "b.txt", "c.txt"]
    calls = ex.calls

    again = job.run()                                       # nothing changed: no extraction at all
    assert ex.calls == calls and again.counts["unchanged"] == 3 and again.counts["facts"] == 0

    (tmp_path / "texts" / "b.txt").write_text("Orsk | capital_of | Ilvaria\n", encoding="utf-8")
    (tmp_path / "texts" / "d.txt").write_text("Pell Arno | born_in | Quenmar\n", encoding="utf-8")
    ex.read.clear()
    third = job.run()
    assert sorted(ex.read) == ["b.txt", "d.txt"]                # the changed and the new one only
    assert (third.counts["changed"], third.counts["deleted"], third.counts["new"]) == (1, 0, 1)

    (tmp_path / "texts" / "c.txt").unlink()                     # a deletion: the job's graph is rebuilt
    ex.read.clear()
    fourth = job.run()
    assert sorted(ex.read) == ["a.txt", "b.txt", "d.txt"]
    assert (fourth.counts["deleted"], fourth.counts["rebuilt"], fourth.counts["retracted_facts"]) == (1, 3, 1)
    lines = sorted(f.as_line() for f in store.facts())
    assert lines == ["orsk --capital_of--> ilvaria", "pell arno --born_in--> quenmar", "tarn vell --born_in--> orsk"]
    assert [d.doc_id for d in store.documents()] == ["a.txt", "b.txt", "d.txt"]
    assert [r.status for r in job.history()] == ["ok", "ok", "ok", "ok"]
    store.close()


def test_the_graph_file_is_durable_and_another_process_sees_committed_documents(tmp_path):
    write_corpus(tmp_path / "texts", CORPUS)
    job = Job.from_file(spec_file(tmp_path), extractor=LineExtractor())
    job.run()
    reopened = MemoryStore.open(tmp_path / "graph.sqlite")
    assert [d.doc_id for d in reopened.documents()] == ["a.txt", "b.txt", "c.txt"]
    assert reopened.stats()["facts"] == 4
    reopened.close()


def test_jsonl_and_tsv_sources_and_id_prefixes(tmp_path):
    write_corpus(tmp_path, {
        "feed.jsonl": json.dumps({"id": "n1", "body": "Tarn Vell | born_in | Orsk"}) + "\n"
                      + json.dumps({"id": "n2", "body": "Orsk | capital_of | Ilvaria"}) + "\n",
        "kb.tsv": "Helcor\tlocated_in\tOrsk\n",
    })
    sources = "  - jsonl: feed.jsonl\n    text_field: body\n    id_prefix: 'news/'\n  - tsv: kb.tsv\n"
    store = MemoryStore()
    run = Job.from_file(spec_file(tmp_path, sources=sources), store=store, extractor=LineExtractor()).run()
    assert run.status == "ok" and run.counts["new"] == 3
    assert [d.doc_id for d in store.documents()] == ["kb:kb.tsv", "news/n1", "news/n2"]
    assert {f.as_line() for f in store.facts()} >= {"helcor --located_in--> orsk"}


# --------------------------------------------------------------------------------------- failure policy
def test_a_failing_document_is_recorded_and_skipped_and_keeps_what_it_had(tmp_path):
    write_corpus(tmp_path / "texts", CORPUS)
    (tmp_path / "texts" / "bad.txt").write_bytes(b"\xff\xfe not utf-8")
    store = MemoryStore()
    ex = LineExtractor()
    job = Job.from_file(spec_file(tmp_path), store=store, extractor=ex)
    run = job.run()
    assert run.status == "ok" and run.counts["new"] == 3 and run.counts["failed"] == 1
    assert run.errors[0]["doc_id"] == "bad.txt" and "not UTF-8" in run.errors[0]["error"]

    (tmp_path / "texts" / "a.txt").write_text("boom\n", encoding="utf-8")   # the extractor fails on it
    second = job.run()
    assert [e["doc_id"] for e in second.errors] == ["bad.txt", "a.txt"]
    assert "cannot read a.txt" in second.errors[1]["error"]
    assert "tarn vell --born_in--> orsk" in {f.as_line() for f in store.facts()}   # nothing stored was lost
    from kgllm.stores.ledger import content_hash

    assert store.document("a.txt").content_hash == content_hash(CORPUS["a.txt"])   # so the next run tries again

    third = job.run(fail_fast=True)
    assert third.status == "failed" and len(third.errors) == 1


def test_fail_fast_stops_before_writing_later_documents(tmp_path):
    write_corpus(tmp_path / "texts", {"a.txt": "boom\n", **{k: v for k, v in CORPUS.items() if k != "a.txt"}})
    store = MemoryStore()
    run = Job.from_file(spec_file(tmp_path, "batch_size: 1\n"), store=store, extractor=LineExtractor()).run(
        fail_fast=True)
    assert run.status == "failed" and store.documents() == []


def test_a_second_job_on_the_same_store_is_refused_with_a_clear_message(tmp_path):
    write_corpus(tmp_path / "texts", CORPUS)
    spec = spec_file(tmp_path)
    graph = tmp_path / "graph.sqlite"
    MemoryStore().save(graph)                   # an empty graph file
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from kgllm.stores.memory import MemoryStore\n"
        f"s = MemoryStore.open({str(graph)!r})\n"
        "with s.lock('writer', 0):\n    print('held', flush=True); time.sleep(30)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        job = Job.from_file(spec, extractor=LineExtractor())
        with pytest.raises(StoreError, match=r"being written by another process \(pid \d+"):
            job.run(lock_timeout=0.2)
        assert MemoryStore.open(graph).documents() == []
    finally:
        holder.kill()
        holder.wait()
    assert job.run(lock_timeout=5).counts["new"] == 3       # the holder is gone: the lock is free


def test_the_daemon_never_overlaps_a_job_with_itself(tmp_path):
    from kgllm.jobs.logs import LOGGER
    from kgllm.jobs.scheduler import Daemon

    write_corpus(tmp_path / "texts", CORPUS)
    gate = threading.Event()
    job = Job.from_file(spec_file(tmp_path, "schedule: '* * * * *'\n"), store=MemoryStore(),
                        extractor=LineExtractor(gate))
    daemon = Daemon([job])
    records = []
    handler = _ListHandler(records)
    LOGGER.addHandler(handler)
    try:
        first = threading.Thread(target=daemon.fire, args=(job,))
        first.start()
        time.sleep(0.3)
        assert daemon.fire(job) is None                     # the first run is still waiting on the gate
        gate.set()
        first.join(10)
    finally:
        LOGGER.removeHandler(handler)
    skipped = [r for r in records if r.getMessage() == "run_skipped"]
    assert len(skipped) == 1 and "still running" in skipped[0].fields["reason"]
    assert [r.status for r in job.history()] == ["ok"]


def test_a_stopped_run_is_recorded_as_interrupted_and_the_next_run_goes_on(tmp_path):
    write_corpus(tmp_path / "texts", CORPUS)
    store = MemoryStore()
    job = Job.from_file(spec_file(tmp_path, "batch_size: 1\n"), store=store, extractor=LineExtractor())
    stop = threading.Event()
    run = job.run(stop=stop, on_document=lambda doc_id, facts: stop.set())
    assert run.status == "interrupted" and len(store.documents()) == 1
    assert job.run().counts["new"] == 2 and len(store.documents()) == 3


class _ListHandler:
    level = 0

    def __init__(self, records):
        self.records = records

    def handle(self, record):
        self.records.append(record)

    def __getattr__(self, name):  # the rest of logging.Handler's interface, unused here
        return lambda *a, **k: None


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_run_status_history_and_check(tmp_path):
    write_corpus(tmp_path / "texts", {"a.txt": "Claire Martin was born in Lyon.\n"})
    spec = spec_file(tmp_path, "schedule: '0 3 * * *'\nlog: jobs.log\n")
    done = runner.invoke(app, ["jobs", "run", str(spec), "--json"])
    assert done.exit_code == 0, done.output
    record = json.loads(done.stdout)
    assert record["status"] == "ok" and record["counts"]["new"] == 1 and record["counts"]["facts"] >= 1
    events = [json.loads(line)["event"] for line in (tmp_path / "jobs.log").read_text().splitlines()]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    status = json.loads(runner.invoke(app, ["jobs", "status", str(spec), "--json"]).stdout)
    assert status["documents"] == 1 and status["pending"]["unchanged"] == 1 and status["next_run"].endswith("03:00:00Z")
    history = json.loads(runner.invoke(app, ["jobs", "history", str(spec), "--json"]).stdout)
    assert [r["status"] for r in history["runs"]] == ["ok"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: []\nstore: g.sqlite\n", encoding="utf-8")
    checked = runner.invoke(app, ["jobs", "check", str(bad)])
    assert checked.exit_code == 2 and "bad.yaml:1: sources: List should have at least 1 item" in checked.stderr


def test_same_graph_as_the_ingest_pipeline_sees_no_duplicates_after_reruns(tmp_path):
    write_corpus(tmp_path / "texts", CORPUS)
    a, b = MemoryStore(), MemoryStore()
    Job.from_file(spec_file(tmp_path), store=a, extractor=LineExtractor()).run()
    job = Job.from_file(spec_file(tmp_path, "batch_size: 2\n"), store=b, extractor=LineExtractor())
    job.run()
    job.run()
    assert canonical_dump(a) == canonical_dump(b)


def test_a_malformed_jsonl_line_is_reported_and_nothing_of_its_file_is_taken_as_deleted(tmp_path):
    lines = [json.dumps({"id": "n1", "text": "Tarn Vell | born_in | Orsk"}),
             json.dumps({"id": "n2", "text": "Orsk | capital_of | Ilvaria"})]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = MemoryStore()
    job = Job.from_file(spec_file(tmp_path, sources="  - jsonl: feed.jsonl\n"), store=store, extractor=LineExtractor())
    assert job.run().counts["new"] == 2
    (tmp_path / "feed.jsonl").write_text(lines[0] + "\n{\"id\": \"n2\", \"text\": \n", encoding="utf-8")
    run = job.run()
    assert run.counts["deleted"] == 0 and [d.doc_id for d in store.documents()] == ["n1", "n2"]
    assert run.errors[0]["error"].endswith("feed.jsonl:2: malformed JSON (Expecting value at column 22); "
                                           "expected one JSON object per line")
    (tmp_path / "feed.jsonl").write_text(lines[0] + "\n", encoding="utf-8")   # fixed: n2 is gone now
    assert job.run().counts["deleted"] == 1 and [d.doc_id for d in store.documents()] == ["n1"]
