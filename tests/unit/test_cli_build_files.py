"""``kgllm build`` over a user's folder: unreadable files are skipped and listed (``--strict``: exit 2), every bad
JSONL line is named, summaries read as sentences, and the same content under two ids is said and skipped
(issue 22, items 2, 7 and 8)."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from kgllm.cli import app

runner = CliRunner()


def _folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("Ada Lindqvist was born in Tromsø.\n", encoding="utf-8")
    (docs / "empty.txt").write_text("", encoding="utf-8")
    (docs / "scan.txt").write_bytes(b"%\x00\x01\x02binary")
    (docs / "latin.txt").write_bytes("Malmö is in Sweden.".encode("latin-1"))
    (docs / "rows.jsonl").write_text('{"text": "Oslo is in Norway."}\n{"text": oops}\n'
                                     '{"text": "Bergen is in Norway."}\n{"body": "no text"}\n[1, 2]\n', encoding="utf-8")
    (docs / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return docs


def _docs(graph) -> list[str]:
    listed = runner.invoke(app, ["docs", "list", "--graph", str(graph), "--json"])
    return [d["doc_id"] for d in json.loads(listed.stdout)["documents"]]


def test_a_folder_with_unreadable_files_builds_the_others_and_lists_each_with_its_reason(tmp_path):
    docs, graph = _folder(tmp_path), tmp_path / "g.sqlite"
    built = runner.invoke(app, ["build", str(docs), "--graph", str(graph)])
    assert built.exit_code == 0, built.output
    for line in (f"skipped: {docs / 'empty.txt'}: empty file, nothing to ingest",
                 f"skipped: {docs / 'scan.txt'}: binary file (contains NUL bytes); expected UTF-8 text",
                 f"skipped: {docs / 'latin.txt'}: not UTF-8 text",
                 f"skipped: {docs / 'rows.jsonl'}:2: malformed JSON",
                 f"skipped: {docs / 'rows.jsonl'}:4: expected a string field 'text', got nothing",
                 f"skipped: {docs / 'rows.jsonl'}:5: expected a JSON object, got list",
                 f"not read: 1 file of other kinds (build reads .txt, .md, .text and .jsonl): {docs / 'photo.png'}"):
        assert line in built.stderr, (line, built.stderr)
    assert _docs(graph) == ["good.txt", "rows.jsonl:1", "rows.jsonl:3"]


def test_strict_refuses_naming_every_problem_and_keeps_what_was_stored(tmp_path):
    docs, graph = _folder(tmp_path), tmp_path / "g.sqlite"
    first = runner.invoke(app, ["build", str(docs / "good.txt"), "--graph", str(graph)])
    assert first.exit_code == 0, first.output
    before = runner.invoke(app, ["stats", "--graph", str(graph), "--json"]).stdout
    strict = runner.invoke(app, ["build", str(docs), "--graph", str(graph), "--strict"])
    assert strict.exit_code == 2, strict.output
    assert "6 files or lines cannot be read" in strict.stderr
    for where in ("empty.txt", "scan.txt", "latin.txt", "rows.jsonl:2", "rows.jsonl:4", "rows.jsonl:5"):
        assert where in strict.stderr, where
    assert runner.invoke(app, ["stats", "--graph", str(graph), "--json"]).stdout == before   # nothing written
    assert _docs(graph) == [(docs / "good.txt").as_posix()]


def test_a_source_with_nothing_readable_is_an_error_naming_why(tmp_path):
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path / "empty.txt"), "--graph", str(tmp_path / "g.sqlite")])
    assert result.exit_code == 2
    assert "no readable documents" in result.stderr and "empty file" in result.stderr


NEGATIVE = re.compile(r"(^|[\s,;(])-\d")


def test_summaries_have_no_negative_counts_and_say_one_document(tmp_path):
    note, graph = tmp_path / "note.txt", tmp_path / "g.sqlite"
    note.write_text("Ines Varga was born in Pecs. Ines Varga founded Lumora. Lumora is based in Szeged.\n",
                    encoding="utf-8")
    first = runner.invoke(app, ["build", str(note), "--graph", str(graph)])
    assert first.exit_code == 0 and ": 1 document, " in first.stderr, first.stderr
    note.write_text("Ines Varga was born in Pecs.\n", encoding="utf-8")       # fewer facts than before
    second = runner.invoke(app, ["build", str(note), "--graph", str(graph)])
    assert second.exit_code == 0, second.output
    assert not NEGATIVE.search(second.stderr), second.stderr
    assert re.search(r"\b2 fewer facts, 2 fewer entities\b", second.stderr), second.stderr
    assert "0 documents unchanged" in second.stderr and "1 changed" in second.stderr
    third = runner.invoke(app, ["build", str(note), "--graph", str(graph)])
    assert "1 document unchanged" in third.stderr and "1 documents" not in third.stderr, third.stderr


def test_the_same_content_under_a_second_id_is_named_and_skipped_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("Ada Lindqvist was born in Tromsø.\n", encoding="utf-8")
    (tmp_path / "notes" / "b.txt").write_text("Tromsø is located in Norway.\n", encoding="utf-8")
    alone = runner.invoke(app, ["build", "notes/a.txt", "--graph", "g.sqlite"])          # id: notes/a.txt
    assert alone.exit_code == 0, alone.output
    folder = runner.invoke(app, ["build", "notes", "--graph", "g.sqlite"])               # ids: a.txt, b.txt
    assert folder.exit_code == 0, folder.output
    assert "skipped: a.txt: same content as document notes/a.txt (--allow-duplicates ingests it too)" \
        in folder.stderr, folder.stderr
    assert _docs("g.sqlite") == ["b.txt", "notes/a.txt"]
    facts = json.loads(runner.invoke(app, ["query", "MATCH (a)-[r]->(b) RETURN r.id", "--graph", "g.sqlite",
                                           "--json"]).stdout)["rows"]
    assert len(facts) == 2
    allowed = runner.invoke(app, ["build", "notes", "--graph", "g.sqlite", "--allow-duplicates"])
    assert allowed.exit_code == 0 and "same content" not in allowed.stderr, allowed.stderr
    assert _docs("g.sqlite") == ["a.txt", "b.txt", "notes/a.txt"]


def test_sources_are_recorded_relative_to_where_the_build_ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("Ada Lindqvist was born in Tromsø.\n", encoding="utf-8")
    (tmp_path / "notes" / "rows.jsonl").write_text('{"text": "Oslo is in Norway."}\n', encoding="utf-8")
    built = runner.invoke(app, ["build", str(tmp_path / "notes"), "--graph", "g.sqlite"])   # an absolute path
    assert built.exit_code == 0, built.output
    listed = json.loads(runner.invoke(app, ["docs", "list", "--graph", "g.sqlite", "--json"]).stdout)["documents"]
    assert [d["source"] for d in listed] == ["notes/a.txt", "notes/rows.jsonl:1"]
