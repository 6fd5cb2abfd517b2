"""The durable memory store on a SQLite file: reopening, writing by change, other processes, crashes."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kgllm.errors import InputError, NotFoundError, StoreError
from kgllm.stores.ledger import DocumentRecord, canonical_dump
from kgllm.stores.memory import MemoryStore
from kgllm.stores.memory.sqlite import file_revision, is_sqlite_file
from kgllm.types import Entity, Fact, GraphDelta, Merge, Provenance

ROOT = Path(__file__).resolve().parents[2]


def doc_delta(doc: str, n: int, offset: int = 0) -> GraphDelta:
    """``n`` facts of document ``doc``: person k works at company k (names made up here)."""
    return GraphDelta(facts=[Fact(f"person {doc} {k}", "works_at", f"company {(k + offset) % 7}",
                                  provenance=(Provenance(doc, k, sentence=f"sentence {k} of {doc}"),))
                             for k in range(n)])


def test_reopen_gives_the_same_graph_merges_ledger_and_runs(tmp_path):
    path = tmp_path / "g.sqlite"
    store = MemoryStore.open(path, create=True)
    store.upsert(GraphDelta(entities=[Entity("ada lindqvist", "Ada Lindqvist", "PERSON", ("A. Lindqvist",))],
                            facts=[Fact("ada lindqvist", "born_in", "tromso", 0.7, (Provenance("d1", 0),)),
                                   Fact("ada l.", "founded", "fjordcell", provenance=(Provenance("d2", 1),))]))
    store.upsert(GraphDelta(merges=[Merge("ada l.", "ada lindqvist", "alias", 0.9, "d2")]))
    store.ingest_document(DocumentRecord("d3", "notes/c.txt", "sha256:3"), doc_delta("d3", 3))
    run = store.begin_run("nightly")
    store.end_run(run.__class__(**{**run.__dict__, "status": "ok", "counts": {"documents": 1}}))
    store.close()
    again = MemoryStore.open(path)
    assert again.durable and again.path == path
    assert canonical_dump(again) == canonical_dump(store)
    assert again.to_dict() == store.to_dict()                   # insertion order and undo records too
    assert [r.status for r in again.runs("nightly")] == ["ok"]
    assert again.unmerge("ada l.")                              # the undo record survived the reopen
    assert MemoryStore.open(path).get_entity("ada l.") is not None
    assert KnowledgeGraphLoad(path) == canonical_dump(MemoryStore.open(path))


def KnowledgeGraphLoad(path: Path) -> str:
    import kgllm

    return canonical_dump(kgllm.KnowledgeGraph.load(path).store)


V1_TABLES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entities(id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, aliases TEXT NOT NULL);
CREATE TABLE facts(id TEXT PRIMARY KEY, s TEXT NOT NULL, o TEXT NOT NULL, r TEXT NOT NULL, c REAL NOT NULL,
                   p TEXT NOT NULL);
CREATE TABLE merges(alias TEXT PRIMARY KEY, seq INTEGER NOT NULL, record TEXT NOT NULL);
CREATE TABLE documents(doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, content_hash TEXT NOT NULL,
                       facts INTEGER NOT NULL, ingested_at TEXT NOT NULL);
CREATE TABLE runs(run_id TEXT PRIMARY KEY, job TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE changes(revision INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL);
"""


def version_1_file(path: Path, store: MemoryStore) -> None:
    """The file kgllm wrote before the graph was queried in place (layout 1, no text column), from ``store``."""
    from kgllm.stores.memory.sqlite import merge_record

    data = store.to_dict()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.executescript(V1_TABLES)
    con.executemany("INSERT INTO meta VALUES (?, ?)", [("format", "kgllm-graph"), ("version", "1"),
                                                      ("revision", "7")])
    con.executemany("INSERT INTO entities VALUES (?, ?, ?, ?)",
                    [(e["id"], e["name"], e["type"], json.dumps(e["aliases"])) for e in data["entities"]])
    con.executemany("INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?)",
                    [(Fact(f["s"], f["r"], f["o"]).id, f["s"], f["o"], f["r"], f["c"], json.dumps(f["p"]))
                     for f in data["facts"]])
    for i, (m, undo) in enumerate(store._graph.undo_items()):
        con.execute("INSERT INTO merges VALUES (?, ?, ?)", (m.alias, i + 1, merge_record(m, undo)))
    con.executemany("INSERT INTO documents VALUES (?, ?, ?, ?, ?)",
                    [(d.doc_id, d.source, d.content_hash, d.facts, d.ingested_at) for d in store.documents()])
    con.commit()
    con.close()


def test_a_version_1_file_is_upgraded_in_place_and_keeps_everything(tmp_path):
    path = tmp_path / "old.sqlite"
    old = json_graph(tmp_path / "g.json")
    version_1_file(path, old)
    store = MemoryStore.open(path)                              # upgraded once, in one transaction
    assert canonical_dump(store) == canonical_dump(old).replace('"text": "', '"text": "')
    assert store.stats() == old.stats() and store.document("d1").text == ""      # no text was kept then
    assert store.find_entities("Ada Lindqvist")[0].id == "ada lindqvist" and store.degree("company 2") == 2
    assert store.unmerge("ada l.") and store.get_entity("ada l.") is not None     # undo records work
    store.ingest_document(DocumentRecord("d9", "c.txt", "h9", text="Pernik lies on a river."), doc_delta("d9", 1))
    again = MemoryStore.open(path)
    assert again.document("d9").text == "Pernik lies on a river." and again.stats() == store.stats()
    assert sqlite3.connect(path).execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == ("2",)


def test_documents_keep_their_text_and_listing_them_reads_no_text(tmp_path, monkeypatch):
    path = tmp_path / "g.sqlite"
    store = MemoryStore.open(path, create=True)
    text = "Ilse Varga founded a bakery in Pernik. It closed in 1999."
    store.ingest_document(DocumentRecord("d1", "a.txt", "sha256:1", text=text), doc_delta("d1", 1))
    store.ingest_document(DocumentRecord("d2", "b.txt", "sha256:2", text="x" * 100_000), doc_delta("d2", 1))
    assert MemoryStore.open(path).document("d1").text == text
    asked: list[str] = []
    reader = MemoryStore.open(path)
    real = reader._graph._text_of
    monkeypatch.setattr(reader._graph, "_text_of", lambda doc_id: asked.append(doc_id) or real(doc_id))
    listed = reader.documents()
    assert [d.doc_id for d in listed] == ["d1", "d2"] and asked == []          # listing reads no text ...
    assert listed[0].text == text and asked == ["d1"]                          # ... each is read when asked for
    assert listed[0] == DocumentRecord("d1", "a.txt", "sha256:1", 1, listed[0].ingested_at, text)
    assert listed == store.documents()


def test_a_write_commits_only_its_rows(tmp_path):
    store = MemoryStore.open(tmp_path / "g.sqlite", create=True)
    for d in range(20):
        store.ingest_document(DocumentRecord(f"d{d}", f"{d}.txt", f"h{d}"), doc_delta(f"d{d}", 50))
    con = store._db._write_con
    before = con.total_changes
    store.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso", provenance=(Provenance("new"),))]))
    rows = con.total_changes - before
    assert 4 <= rows <= 40      # two entities and their names, one fact, its counts: not the 1,000 facts
    before = con.total_changes
    store.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso", provenance=(Provenance("new"),))]))
    assert con.total_changes == before                          # nothing changed: nothing written
    assert file_revision(tmp_path / "g.sqlite") == 21


def test_a_graph_file_is_made_by_its_first_write_only(tmp_path):
    path = tmp_path / "new.sqlite"
    store = MemoryStore.open(path, create=True)
    assert store.stats()["facts"] == 0 and store.documents() == [] and store.find_entities("ada") == []
    store.upsert(GraphDelta())                                  # writes nothing
    with store.lock("writer", timeout=0):
        pass
    store.close()
    assert list(tmp_path.iterdir()) == []                       # no graph file, no lock file left behind
    store = MemoryStore.open(path, create=True)
    store.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso")]))
    assert is_sqlite_file(path) and MemoryStore.open(path).stats()["facts"] == 1


def test_json_files_still_open_and_convert(tmp_path):
    legacy = MemoryStore()
    legacy.ingest_document(DocumentRecord("d1", "a.txt", "h1"), doc_delta("d1", 4))
    legacy.save(tmp_path / "g.json.gz")
    opened = MemoryStore.load(tmp_path / "g.json.gz")
    assert not opened.durable and canonical_dump(opened) == canonical_dump(legacy)   # the ledger travels in JSON
    opened.save(tmp_path / "g.db")                              # the name chooses the format
    assert is_sqlite_file(tmp_path / "g.db")
    durable = MemoryStore.load(tmp_path / "g.db")
    assert durable.durable and canonical_dump(durable) == canonical_dump(legacy)
    durable.save(tmp_path / "back.json")
    assert json.loads((tmp_path / "back.json").read_text())["documents"][0]["doc_id"] == "d1"
    os.replace(tmp_path / "g.db", tmp_path / "renamed.graph")   # a SQLite file opens by content, whatever its name
    assert MemoryStore.load(tmp_path / "renamed.graph").durable


def json_graph(path: Path) -> MemoryStore:
    """A JSON graph file with facts, a merge with its undo record, two ledger rows and a run."""
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[Fact("ada l.", "founded", "fjordcell", provenance=(Provenance("d9", 1),)),
                                   Fact("ada lindqvist", "born_in", "tromso", 0.7, (Provenance("d9", 0),))]))
    store.upsert(GraphDelta(merges=[Merge("ada l.", "ada lindqvist", "alias", 0.9, "d9")]))
    store.ingest_document(DocumentRecord("d1", "a.txt", "h1"), doc_delta("d1", 4))
    store.ingest_document(DocumentRecord("d2", "b.txt", "h2"), doc_delta("d2", 3, offset=2))
    store.end_run(replace(store.begin_run("nightly"), status="ok"))
    store.save(path)
    return store


def test_migrating_a_json_file_in_place_keeps_the_json_and_its_content(tmp_path):
    from kgllm.stores.memory.persist import migrate_to_sqlite

    path = tmp_path / "g.json"
    original = json_graph(path)
    raw = path.read_bytes()
    os.chmod(path, 0o640)
    backup = migrate_to_sqlite(path)
    assert backup == tmp_path / "g.json.bak" and backup.read_bytes() == raw      # the JSON, byte for byte
    assert is_sqlite_file(path) and (path.stat().st_mode & 0o777) == 0o640
    migrated = MemoryStore.load(path)
    assert migrated.durable and canonical_dump(migrated) == canonical_dump(original)
    assert migrated.to_dict() == original.to_dict()            # order, undo records and runs too
    assert migrated.unmerge("ada l.")                          # the undo record works on the migrated file
    migrated.close()
    assert migrate_to_sqlite(path) is None                     # once only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.json.bak"]   # no temporary files left


def test_the_backup_never_overwrites_another_file(tmp_path):
    from kgllm.stores.memory.persist import backup_name, migrate_to_sqlite

    path = tmp_path / "g.json"
    json_graph(path)
    (tmp_path / "g.json.bak").write_text("someone's notes\n")
    assert backup_name(path).name == "g.json.bak.1"
    (tmp_path / "g.json.bak.1").write_bytes(path.read_bytes())  # left by an interrupted migration: reused
    assert migrate_to_sqlite(path).name == "g.json.bak.1"
    assert (tmp_path / "g.json.bak").read_text() == "someone's notes\n"
    assert not (tmp_path / "g.json.bak.2").exists()


def test_a_crash_after_the_sqlite_copy_is_written_leaves_the_json_intact(tmp_path, monkeypatch):
    from kgllm.stores.memory import persist

    path = tmp_path / "g.json"
    original = json_graph(path)
    raw = path.read_bytes()
    seen: list[Path] = []

    def crash(tmp: Path, target: Path) -> None:
        assert is_sqlite_file(tmp) and MemoryStore.load(tmp).stats() == original.stats()   # the copy was complete
        seen.append(tmp)
        raise OSError("disk gone while renaming")

    monkeypatch.setattr(persist, "_replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        persist.migrate_to_sqlite(path)
    assert seen and path.read_bytes() == raw                   # the JSON is untouched ...
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]   # ... and no backup or temporary file is left
    monkeypatch.undo()
    assert persist.migrate_to_sqlite(path) == tmp_path / "g.json.bak"   # a later try works
    assert canonical_dump(MemoryStore.load(path)) == canonical_dump(original)


def test_a_store_read_from_json_migrates_at_its_first_write_and_keeps_what_others_wrote(tmp_path):
    path = tmp_path / "g.json"
    json_graph(path)
    said: list[tuple[Path, Path]] = []
    store = MemoryStore.load(path)
    store.migrate_on_first_write(lambda graph, backup: said.append((graph, backup)))
    assert store.neighbors("tromso") and not said and not is_sqlite_file(path)      # reads do not migrate
    other = MemoryStore.load(path)                              # a JSON writer got there in between
    other.upsert(GraphDelta(facts=[Fact("oren pike", "born_in", "szeged")]))
    other.save(path)
    store.upsert(GraphDelta(facts=[Fact("ines varga", "born_in", "pecs")]))
    assert said == [(path, tmp_path / "g.json.bak")] and store.durable and is_sqlite_file(path)
    reopened = MemoryStore.load(path)
    assert {f.subject for f in reopened.facts()} >= {"oren pike", "ines varga"}   # the stale view was reloaded
    assert canonical_dump(reopened) == canonical_dump(store)
    store.upsert(GraphDelta(facts=[Fact("ines varga", "founded", "lumora")]))
    assert len(said) == 1 and MemoryStore.load(path).stats()["facts"] == store.stats()["facts"]


def test_save_exports_by_extension_even_over_a_sqlite_file(tmp_path):
    store = MemoryStore()
    store.ingest_document(DocumentRecord("d1", "a.txt", "h1"), doc_delta("d1", 2))
    store.save(tmp_path / "g.sqlite")
    store.save(tmp_path / "g.json")
    assert is_sqlite_file(tmp_path / "g.sqlite") and not is_sqlite_file(tmp_path / "g.json")
    os.replace(tmp_path / "g.sqlite", tmp_path / "h.json")     # a SQLite file under a JSON name ...
    store.save(tmp_path / "h.json")                            # ... is replaced by the JSON export the name asks for
    assert json.loads((tmp_path / "h.json").read_text())["documents"][0]["doc_id"] == "d1"
    store.save(tmp_path / "g.sqlite")
    os.replace(tmp_path / "g.sqlite", tmp_path / "odd.graph")  # another name keeps the format already there
    store.save(tmp_path / "odd.graph")
    assert is_sqlite_file(tmp_path / "odd.graph")


def test_bad_files_are_refused_with_the_file_named(tmp_path):
    with pytest.raises(NotFoundError, match="missing.sqlite"):
        MemoryStore.open(tmp_path / "missing.sqlite")
    (tmp_path / "text.sqlite").write_text("not a database at all, just words\n" * 10)
    with pytest.raises(InputError, match="text.sqlite"):
        MemoryStore.open(tmp_path / "text.sqlite")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    other.execute("INSERT INTO meta VALUES ('format', 'someone-else')")
    other.commit()
    other.close()
    with pytest.raises(InputError, match="not a kgllm graph file"):
        MemoryStore.load(tmp_path / "other.db")
    another = sqlite3.connect(tmp_path / "another.db")
    another.execute("CREATE TABLE notes(body TEXT)")
    another.commit()
    another.close()
    with pytest.raises(InputError, match="without kgllm's tables"):
        MemoryStore.open(tmp_path / "another.db")
    tables = sqlite3.connect(tmp_path / "another.db").execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("notes",)]                               # someone else's database is left untouched


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    from kgllm.stores.memory.sqlgraph import SqlGraph

    store = MemoryStore.open(tmp_path / "g.sqlite", create=True)
    store.ingest_document(DocumentRecord("d1", "a", "h"), doc_delta("d1", 3))
    store.upsert(GraphDelta(merges=[Merge("company 1", "company 2", "alias")]))
    before = canonical_dump(store)

    def broken(self):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(SqlGraph, "finish", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.ingest_document(DocumentRecord("d1", "a", "h2"), doc_delta("d1", 5, offset=3))
    monkeypatch.undo()
    assert canonical_dump(store) == before == canonical_dump(MemoryStore.open(tmp_path / "g.sqlite"))
    store.upsert(GraphDelta(facts=[Fact("company 1", "based_in", "oslo")]))   # the merge map was read again
    assert [f.subject for f in store.neighbors("oslo")] == ["company 2"]


def test_two_stores_on_one_file_see_each_others_commits_and_lose_nothing(tmp_path):
    a = MemoryStore.open(tmp_path / "g.sqlite", create=True)
    a.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso")]))
    b = MemoryStore.open(tmp_path / "g.sqlite")
    assert not b.refresh()
    rev = b.revision()
    a.ingest_document(DocumentRecord("d1", "a", "h"), doc_delta("d1", 2))
    assert b.stats()["facts"] == 3 and b.revision() > rev       # the file is queried: a's commit shows at once
    assert b.refresh() and not b.refresh()                      # refresh says that something changed since
    a.ingest_document(DocumentRecord("d2", "b", "h"), doc_delta("d2", 2))
    b.ingest_document(DocumentRecord("d3", "c", "h"), doc_delta("d3", 2))
    reopened = MemoryStore.open(tmp_path / "g.sqlite")
    assert [d.doc_id for d in reopened.documents()] == ["d1", "d2", "d3"] and reopened.stats()["facts"] == 7
    assert canonical_dump(a) == canonical_dump(b) == canonical_dump(reopened)


# ------------------------------------------------------------- other processes
def ingest_all(store: MemoryStore, first: int, last: int, say=lambda: None) -> None:
    """Every document twice, the second time with changed content (what the crash test's worker runs)."""
    for round_ in range(2):
        for d in range(first, last):
            store.ingest_document(DocumentRecord(f"d{d}", f"{d}.txt", f"h{d}.{round_}"),
                                  doc_delta(f"d{d}", 3 + (d + round_) % 4, offset=round_))
            say()


WORKER = "\n".join([
    "import sys",
    "from kgllm.stores.ledger import DocumentRecord",
    "from kgllm.stores.memory import MemoryStore",
    "from kgllm.types import Fact, GraphDelta, Provenance",
    textwrap.dedent(__import__("inspect").getsource(doc_delta)),
    textwrap.dedent(__import__("inspect").getsource(ingest_all)),
    "store = MemoryStore.open(sys.argv[1], create=True)",
    "print('ready', flush=True)",
    "ingest_all(store, int(sys.argv[2]), int(sys.argv[3]), lambda: print('.', flush=True))",
])


def _worker(path: Path, first: int, last: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(first), str(last)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _consistent(store: MemoryStore) -> None:
    """Every ledger row matches the facts its document has; no fact of a document without a row."""
    docs = {d.doc_id: d for d in store.documents()}
    per_doc: dict[str, int] = {}
    for f in store.facts():
        for p in f.provenance:
            per_doc[p.doc_id] = per_doc.get(p.doc_id, 0) + 1
    assert set(per_doc) <= set(docs)
    for doc_id, row in docs.items():
        assert per_doc.get(doc_id, 0) == row.facts
        round_ = int(row.content_hash.rsplit(".", 1)[1])
        assert row.facts == 3 + (int(doc_id[1:]) + round_) % 4   # the facts of exactly the recorded version


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_the_file_consistent(tmp_path):
    """A writer process killed at seeded random moments: the file is consistent, and a rerun completes it exactly."""
    reference = MemoryStore()
    ingest_all(reference, 0, 30)
    rng = random.Random(11)
    interrupted = 0
    for trial in range(4):
        path = tmp_path / f"crash{trial}.sqlite"
        proc = _worker(path, 0, 30)
        for _ in range(rng.randrange(0, 60)):                   # killed after a random number of commits,
            proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.002))                     # at a random moment of the next one
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _consistent(MemoryStore.open(path))
        interrupted += canonical_dump(MemoryStore.open(path)) != canonical_dump(reference)
        rerun = _worker(path, 0, 30)
        rerun.communicate(timeout=120)
        assert rerun.returncode == 0                            # run again to the end: as if never interrupted
        assert canonical_dump(MemoryStore.open(path)) == canonical_dump(reference)
    assert interrupted >= 3                                     # the kills landed mid-run, not after it


def test_a_second_process_waits_for_the_lock_or_is_refused(tmp_path):
    path = tmp_path / "g.sqlite"
    MemoryStore.open(path, create=True).upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso")]))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from kgllm.stores.memory import MemoryStore
        store = MemoryStore.open({str(path)!r})
        with store.lock("nightly", timeout=0):
            print("locked", flush=True)
            time.sleep(60)
    """)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        store = MemoryStore.open(path)
        with pytest.raises(StoreError, match=rf"being written by another process \(pid {holder.pid} on "):
            with store.lock("nightly", timeout=0.3):
                pass
        with store.lock("weekly", timeout=0):                   # another name is another lock
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with store.lock("nightly", timeout=5):                      # a killed holder leaves no stale lock
        pass


def test_a_reader_follows_a_writer_without_loading_anything(tmp_path):
    """A reader that stays open sees every commit (merges, unmerges, retractions, ledger) as it is made."""
    writer = MemoryStore.open(tmp_path / "g.sqlite", create=True)
    writer.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso")]))
    reader = MemoryStore.open(tmp_path / "g.sqlite")
    memory = MemoryStore()
    memory.upsert(GraphDelta(facts=[Fact("ada", "born_in", "tromso")]))
    steps = [
        lambda s: s.ingest_document(DocumentRecord("d1", "a", "h1"), doc_delta("d1", 6)),
        lambda s: s.upsert(GraphDelta(entities=[Entity("person d1 0", "Person D1 0", "PERSON", ("P0",))],
                                      facts=[Fact("p. zero", "likes", "company 1", provenance=(Provenance("d2"),))])),
        lambda s: s.upsert(GraphDelta(merges=[Merge("p. zero", "person d1 0", "alias")])),
        lambda s: s.ingest_document(DocumentRecord("d1", "a", "h2"), doc_delta("d1", 3, offset=2)),
        lambda s: s.unmerge("p. zero"),
        lambda s: s.retract_document("d2"),
        lambda s: s.end_run(s.begin_run("nightly")),
    ]
    for step in steps:
        step(writer)
        step(memory)
        assert canonical_dump(reader) == canonical_dump(writer) == canonical_dump(memory)
        assert reader.stats() == writer.stats() == memory.stats()
        assert reader.find_entities("P0") == writer.find_entities("P0") == memory.find_entities("P0")
        assert reader.relations() == memory.relations()
        assert {e.id: reader.degree(e.id) for e in memory.entities()} == \
            {e.id: memory.degree(e.id) for e in memory.entities()}
    reader.ingest_document(DocumentRecord("d3", "c", "h"), doc_delta("d3", 2))   # the reader writes too
    assert canonical_dump(writer) == canonical_dump(reader)


def test_the_stores_import_no_module_that_imports_them_back_not_even_for_type_checking():
    """``persist`` and ``store`` imported each other (one of the two only for type checking): no more."""
    import ast

    import networkx as nx

    package = ROOT / "kgllm" / "stores"
    graph = nx.DiGraph()
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kgllm.stores"):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    graph.add_edge(name, target if (package.parent.parent / (target.replace(".", "/") + ".py")).exists()
                                   else node.module)
    cycles = [c for c in nx.simple_cycles(graph) if len(c) > 1]
    assert cycles == []
