"""Job runs: a run that waited for another keeps that run's record (issue 22, item 16), ledger sources relative to
the job's folder so a moved graph keeps meaning (item 22), and deleting files that shaped a merge or a type ends as
a fresh build of the folder (item 15)."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.jobs import Job
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance, entity_id

runner = CliRunner()


class LineExtractor:
    """Reads ``subject | relation | object`` lines."""

    name = "lines"

    def extract(self, documents, progress=False):
        delta = GraphDelta()
        for doc in documents:
            for i, line in enumerate(doc.text.splitlines()):
                s, r, o = (p.strip() for p in line.split("|"))
                delta.entities += [Entity(entity_id(s), s), Entity(entity_id(o), o)]
                delta.facts.append(Fact(entity_id(s), r, entity_id(o), provenance=(Provenance(doc.id, i),)))
        return delta


def _job(root, lines: bool = False):
    (root / "texts").mkdir(parents=True)
    (root / "texts" / "a.txt").write_text("Tarn Vell | born_in | Orsk\n" if lines else "Tarn Vell was born in Orsk.\n",
                                          encoding="utf-8")
    (root / "texts" / "b.txt").write_text("Mira Tosk | works_for | Helcor\n" if lines else "Mira Tosk works for Helcor.\n",
                                          encoding="utf-8")
    spec = root / "job.yaml"
    spec.write_text("name: test\nsources:\n  - folder: texts\nstore: graph.sqlite\nextractor:\n  resolve: none\n",
                    encoding="utf-8")
    return spec


def test_a_run_that_waited_for_another_keeps_that_runs_ok_record(tmp_path):
    spec = _job(tmp_path, lines=True)
    first = MemoryStore.open(tmp_path / "graph.sqlite", create=True)
    running = first.begin_run("test")                          # another job's run, in progress ...
    second = MemoryStore.open(tmp_path / "graph.sqlite")       # ... when this job opened the store and waited
    first.end_run(running.__class__(running.run_id, "test", running.started_at, None, "ok", {"new": 2}))
    first.close()
    record = Job.from_file(spec, store=second, extractor=LineExtractor()).run(lock_timeout=5)
    assert record.status == "ok"
    runs = {r.run_id: r for r in second.runs("test")}
    assert runs[running.run_id].status == "ok" and runs[running.run_id].counts == {"new": 2}
    second.close()
    reopened = MemoryStore.open(tmp_path / "graph.sqlite")
    assert {r.run_id: r.status for r in reopened.runs("test")}[running.run_id] == "ok"
    reopened.close()


def test_sources_are_relative_to_the_jobs_folder_and_a_moved_graph_keeps_meaning(tmp_path):
    spec = _job(tmp_path / "project")
    ran = runner.invoke(app, ["jobs", "run", str(spec), "--json"])
    assert ran.exit_code == 0, ran.output
    listed = runner.invoke(app, ["docs", "list", "--graph", str(tmp_path / "project" / "graph.sqlite"), "--json"])
    assert [d["source"] for d in json.loads(listed.stdout)["documents"]] == ["texts/a.txt", "texts/b.txt"]
    shutil.move(tmp_path / "project", tmp_path / "moved")        # spec, texts and graph move together
    (tmp_path / "moved" / "texts" / "b.txt").unlink()
    again = runner.invoke(app, ["jobs", "run", str(tmp_path / "moved" / "job.yaml"), "--json"])
    assert again.exit_code == 0, again.output
    counts = json.loads(again.stdout)["counts"]
    assert (counts["unchanged"], counts["deleted"], counts["retracted_facts"]) == (1, 1, 1)
    store = MemoryStore.load(tmp_path / "moved" / "graph.sqlite")
    facts = list(store.facts())
    assert facts and {p.doc_id for f in facts for p in f.provenance} == {"a.txt"}
    assert [d.doc_id for d in store.documents()] == ["a.txt"]
    store.close()


class TypedLineExtractor:
    """Reads ``subject | relation | object`` lines; a name may carry its NER type as ``Name/TYPE``."""

    name = "typed-lines"

    def extract(self, documents, progress=False):
        delta = GraphDelta()
        for doc in documents:
            for i, line in enumerate(doc.text.splitlines()):
                s, r, o = (p.strip() for p in line.split("|"))
                ends = []
                for part in (s, o):
                    name, _, typ = part.partition("/")
                    delta.entities.append(Entity(entity_id(name), name, typ))
                    ends.append(entity_id(name))
                delta.facts.append(Fact(ends[0], r, ends[1], provenance=(Provenance(doc.id, i),)))
        return delta


SHAPERS = {
    "a.txt": "Kestrel | based_in | Bremen\n",
    "b.txt": "Kestrel/ORG | founded_by | Ilse Brandt/PERSON\n",         # names Ilse Brandt, types Kestrel
    "c.txt": "Ingrid Brandt/PERSON | lives_in | Kiel\n",                 # a second I. Brandt: no merge of "I."
    "d.txt": "I. Brandt/PERSON | wrote | Report\n",
    "e.txt": "Dr. Ilse Brandt/PERSON | spoke_in | Oslo\n",
}


def _dump(path) -> str:
    from kgllm.stores.ledger import canonical_dump

    store = MemoryStore.open(path)
    try:
        return canonical_dump(store)
    finally:
        store.close()


def test_deleting_files_that_shaped_a_merge_and_a_type_ends_as_a_fresh_build(tmp_path):
    (tmp_path / "texts").mkdir()
    for name, text in SHAPERS.items():
        (tmp_path / "texts" / name).write_text(text, encoding="utf-8")
    spec = tmp_path / "job.yaml"
    spec.write_text("name: test\nsources:\n  - folder: texts\nstore: graph.sqlite\n", encoding="utf-8")
    store = MemoryStore.open(tmp_path / "graph.sqlite", create=True)
    Job.from_file(spec, store=store, extractor=TypedLineExtractor()).run()
    assert store.get_entity("kestrel").type == "ORG"
    assert {m.alias: m.canonical for m in store.merges()} == {"dr. ilse brandt": "ilse brandt"}   # "I." fits two
    (tmp_path / "texts" / "b.txt").unlink()
    (tmp_path / "texts" / "c.txt").unlink()
    run = Job.from_file(spec, store=store, extractor=TypedLineExtractor()).run()
    store.close()
    assert (run.status, run.counts["deleted"], run.counts["unchanged"], run.counts["rebuilt"]) == ("ok", 2, 3, 3)
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text("name: test\nsources:\n  - folder: texts\nstore: fresh.sqlite\n", encoding="utf-8")
    fresh_store = MemoryStore.open(tmp_path / "fresh.sqlite", create=True)
    Job.from_file(fresh, store=fresh_store, extractor=TypedLineExtractor()).run()
    fresh_store.close()
    expected = _dump(tmp_path / "fresh.sqlite")
    assert _dump(tmp_path / "graph.sqlite") == expected
    assert '"kestrel", "Kestrel", "", ' in expected                    # no type once its only source is gone
    assert 'M ["i. brandt", "dr. ilse brandt", "person"' in expected   # "I." fits one person now
