"""Documents as first-class objects: the ledger behind ``KnowledgeGraph.ingest``, ``kgllm build`` and ``kgllm docs``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import docs as docs_cli
from kgllm.cli import graph as graph_cli
from kgllm.cli import rdf as rdf_cli
from kgllm.cli.common import new_app
from kgllm.errors import NotFoundError
from kgllm.extract.base import ExtractionResult, SkippedDocument
from kgllm.graph import KnowledgeGraph
from kgllm.stores.ledger import canonical_dump, content_hash
from kgllm.stores.memory import MemoryStore
from kgllm.stores.memory.sqlite import is_sqlite_file
from kgllm.types import Document, Fact, GraphDelta, Provenance

runner = CliRunner()
app = new_app("test app")
graph_cli.register(app)
docs_cli.register(app)
rdf_cli.register(app)


class WordPairs:
    """Reads 'A likes B.' sentences (a toy extractor written for these tests) and counts the documents it read."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def extract(self, docs, progress: bool = False) -> GraphDelta:
        out = ExtractionResult()
        for doc in docs:
            self.read.append(doc.id)
            if "unreadable" in doc.text:
                out.skipped.append(SkippedDocument(doc.id, -1, "cannot read"))
                continue
            for i, sentence in enumerate(s for s in doc.text.split(".") if " likes " in s):
                a, b = (x.strip() for x in sentence.split(" likes "))
                out.facts.append(Fact(a.lower(), "likes", b.lower(), provenance=(Provenance(doc.id, i),)))
        return out


def test_unchanged_documents_are_not_extracted_and_changed_ones_replace_their_facts():
    extractor = WordPairs()
    kg = KnowledgeGraph(extractor=extractor, resolver=None)
    first = kg.ingest([Document("a", "Ada likes tea. Ben likes rain."), Document("b", "Cy likes tea.")])
    assert (first.documents, first.extracted, first.unchanged, first.replaced) == (2, 3, 0, 0)
    assert [(d.doc_id, d.facts, d.content_hash) for d in kg.documents()] == [
        ("a", 2, content_hash("Ada likes tea. Ben likes rain.")), ("b", 1, content_hash("Cy likes tea."))]
    extractor.read.clear()
    again = kg.ingest([Document("a", "Ada likes tea. Ben likes rain."), Document("b", "Cy likes tea.")])
    assert extractor.read == [] and (again.unchanged, again.extracted, again.facts_added) == (2, 0, 0)
    edited = kg.ingest([Document("a", "Ada likes coffee."), Document("b", "Cy likes tea.")])
    assert extractor.read == ["a"] and (edited.unchanged, edited.replaced) == (1, 1)
    assert sorted(f.as_line() for f in kg.store.facts()) == ["ada --likes--> coffee", "cy --likes--> tea"]
    assert kg.store.get_entity("ben") is None and kg.store.document("a").facts == 1


def test_a_document_the_extractor_skips_keeps_its_previous_facts_and_is_retried():
    extractor = WordPairs()
    kg = KnowledgeGraph(extractor=extractor, resolver=None)
    kg.ingest([Document("a", "Ada likes tea.")])
    report = kg.ingest([Document("a", "Ada likes tea. unreadable")])
    assert [s.doc_id for s in report.skipped] == ["a"]
    assert [f.as_line() for f in kg.store.facts()] == ["ada --likes--> tea"]
    assert kg.store.document("a").content_hash == content_hash("Ada likes tea.")   # next run tries again


def test_retract_unknown_document_raises_and_changes_nothing():
    kg = KnowledgeGraph(extractor=WordPairs(), resolver=None)
    kg.ingest([Document("a", "Ada likes tea.")])
    before = canonical_dump(kg.store)
    with pytest.raises(NotFoundError, match="'nope'"):
        kg.retract("nope")
    assert canonical_dump(kg.store) == before
    assert kg.retract("a") == 1 and kg.documents() == [] and kg.stats()["facts"] == 0


def test_build_replaces_a_changed_file_and_docs_commands(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "one.txt").write_text("Ines Varga was born in Pecs. Ines Varga founded Lumora.\n", encoding="utf-8")
    (folder / "two.txt").write_text("Oren Pike was born in Szeged.\n", encoding="utf-8")
    graph = tmp_path / "g.sqlite"
    built = runner.invoke(app, ["build", str(folder), "--graph", str(graph), "--no-resolve"])
    assert built.exit_code == 0, built.output
    assert "0 documents unchanged" in built.stderr and "migrated" not in built.stderr
    listed = json.loads(runner.invoke(app, ["docs", "list", "--graph", str(graph), "--json"]).stdout)["documents"]
    assert [d["doc_id"] for d in listed] == ["one.txt", "two.txt"] and all(d["facts"] >= 1 for d in listed)
    assert listed[0]["source"].endswith("one.txt") and listed[0]["content_hash"].startswith("sha256:")
    again = runner.invoke(app, ["build", str(folder), "--graph", str(graph), "--no-resolve"])
    assert "2 documents unchanged" in again.stderr and "0 new facts" in again.stderr, again.stderr
    (folder / "one.txt").write_text("Ines Varga was born in Debrecen.\n", encoding="utf-8")
    changed = runner.invoke(app, ["build", str(folder), "--graph", str(graph), "--no-resolve"])
    assert "1 document unchanged" in changed.stderr and "1 changed" in changed.stderr, changed.stderr
    store = MemoryStore.open(graph)
    places = sorted(f.object for f in store.facts() if f.relation == "born_in")
    assert "pecs" not in places and "debrecen" in places            # the old version's facts are gone
    assert not any(f.object == "lumora" for f in store.facts())
    table = runner.invoke(app, ["docs", "list", "--graph", str(graph)])
    assert table.exit_code == 0 and "one.txt" in table.stdout and "2 documents" in table.stdout
    gone = runner.invoke(app, ["docs", "retract", "two.txt", "--graph", str(graph), "--json"])
    assert gone.exit_code == 0 and json.loads(gone.stdout)["facts_removed"] >= 1
    missing = runner.invoke(app, ["docs", "retract", "two.txt", "--graph", str(graph)])
    assert missing.exit_code == 2 and "'two.txt' is not in the graph" in missing.stderr
    assert [d.doc_id for d in MemoryStore.open(graph).documents()] == ["one.txt"]


def dump(path) -> str:
    store = MemoryStore.load(path)
    try:
        return canonical_dump(store)
    finally:
        store.close()


def test_the_first_cli_write_migrates_a_json_graph_file_once(tmp_path):
    kg = KnowledgeGraph(extractor=WordPairs(), resolver=None)
    kg.ingest([Document("a", "Ada likes tea."), Document("b", "Bo likes rain. Ada likes Bo.")])
    graph = tmp_path / "g.json"
    kg.save(graph)
    raw, before = graph.read_bytes(), canonical_dump(kg.store)
    for argv in (["stats"], ["docs", "list"], ["query", "MATCH (a)-[r]->(b) RETURN a.name"],
                 ["export", "--to", str(tmp_path / "out.json")], ["ask", "who likes tea?", "--no-llm"]):
        done = runner.invoke(app, [*argv, "--graph", str(graph)])
        assert done.exit_code == 0, (argv, done.output)
        assert "migrated" not in done.stderr and graph.read_bytes() == raw, argv      # read-only: never migrates
    bad = tmp_path / "bad.tsv"
    bad.write_text("ada\tlikes\n", encoding="utf-8")
    refused = runner.invoke(app, ["import-kb", str(bad), "--graph", str(graph)])
    assert refused.exit_code == 2 and graph.read_bytes() == raw  # a write that fails before writing: no migration
    assert not (tmp_path / "g.json.bak").exists()
    assert canonical_dump(MemoryStore.load(tmp_path / "out.json")) == before
    retracted = runner.invoke(app, ["docs", "retract", "a", "--graph", str(graph)])
    assert retracted.exit_code == 0, retracted.output
    assert retracted.stderr.splitlines()[0] == (
        f"kgllm: migrated {graph} to the SQLite graph format (the JSON is kept as {graph}.bak; "
        "`kgllm export --to x.json` writes JSON)")
    assert (tmp_path / "g.json.bak").read_bytes() == raw and is_sqlite_file(graph)
    assert canonical_dump(MemoryStore.load(tmp_path / "g.json.bak")) == before   # the backup loads as it was
    kg.retract("a")
    assert dump(graph) == canonical_dump(kg.store)   # migrated, then written
    kb = tmp_path / "kb.tsv"
    kb.write_text("ada\tlikes\tsnow\n", encoding="utf-8")
    again = runner.invoke(app, ["import-kb", str(kb), "--graph", str(graph)])
    assert again.exit_code == 0 and "migrated" not in again.stderr, again.output  # once only
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("g.")) == ["g.json", "g.json.bak"]


def test_a_new_graph_file_is_sqlite_whatever_its_name(tmp_path):
    kb = tmp_path / "kb.tsv"
    kb.write_text("ada\tlikes\ttea\n", encoding="utf-8")
    for name in ("new.json", "new.json.gz", "new.graph"):
        done = runner.invoke(app, ["import-kb", str(kb), "--graph", str(tmp_path / name)])
        assert done.exit_code == 0 and "migrated" not in done.stderr, done.output
        assert is_sqlite_file(tmp_path / name) and MemoryStore.load(tmp_path / name).stats()["facts"] == 1
    exported = runner.invoke(app, ["export", "--to", str(tmp_path / "copy.json"), "--graph", str(tmp_path / "new.json")])
    assert exported.exit_code == 0, exported.output
    assert json.loads((tmp_path / "copy.json").read_text())["facts"][0]["r"] == "likes"   # export: JSON


def test_a_failed_migration_leaves_the_json_and_says_why(tmp_path, monkeypatch):
    from kgllm.stores.memory import persist

    kg = KnowledgeGraph(extractor=WordPairs(), resolver=None)
    kg.ingest([Document("a", "Ada likes tea.")])
    graph = tmp_path / "g.json"
    kg.save(graph)
    raw = graph.read_bytes()

    def full_disk(tmp, target):
        raise persist.StoreError(f"{target}: no space left on device")

    monkeypatch.setattr(persist, "_replace", full_disk)
    failed = runner.invoke(app, ["docs", "retract", "a", "--graph", str(graph)])
    assert failed.exit_code == 1 and "no space left" in failed.stderr and "migrated" not in failed.stderr
    assert graph.read_bytes() == raw and sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]


def test_convert_copies_between_formats(tmp_path):
    kg = KnowledgeGraph(extractor=WordPairs(), resolver=None)
    kg.ingest([Document("a", "Ada likes tea.")])
    kg.save(tmp_path / "g.json")
    converted = runner.invoke(app, ["convert", str(tmp_path / "g.json"), str(tmp_path / "g.sqlite")])
    assert converted.exit_code == 0, converted.output
    assert canonical_dump(MemoryStore.open(tmp_path / "g.sqlite")) == canonical_dump(kg.store)
    assert not is_sqlite_file(tmp_path / "g.json")             # the source is left as it is
    refused = runner.invoke(app, ["convert", str(tmp_path / "g.json"), str(tmp_path / "g.sqlite")])
    assert refused.exit_code == 2 and "--force" in refused.stderr