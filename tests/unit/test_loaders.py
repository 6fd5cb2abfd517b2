"""Tests of document and knowledge-base loaders (hand-made files only)."""

from __future__ import annotations

import json

import pytest

from kgllm.errors import InputError, NotFoundError
from kgllm.graph import KnowledgeGraph
from kgllm.loaders import iter_jsonl, load_folder, load_jsonl, load_sources, load_text, load_text_file, read_kb_tsv
from kgllm.types import Document, Entity


def write_jsonl(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


# ------------------------------------------------------------------- text
def test_load_text():
    d = load_text("Oslo is in Norway.")
    assert d.text == "Oslo is in Norway." and d.id.startswith("text:")
    assert load_text("Oslo is in Norway.").id == d.id  # stable
    assert load_text("Bergen is in Norway.").id != d.id
    assert load_text("x y", doc_id="mine").id == "mine"
    with pytest.raises(InputError):
        load_text("  \n\t ")
    with pytest.raises(InputError):
        load_text(b"bytes")  # type: ignore[arg-type]


def test_load_text_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("Ada Lindqvist lives in Oslo.\nShe works at Equinor.\n", encoding="utf-8")
    d = load_text_file(p)
    assert d == Document(p.as_posix(), "Ada Lindqvist lives in Oslo.\nShe works at Equinor.\n", str(p))
    assert load_text_file(str(p), doc_id="custom").id == "custom"


def test_text_file_id_is_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "2023").mkdir()
    (tmp_path / "2023" / "notes.txt").write_text("Ada moved to Bergen.")
    assert load_text_file("2023/notes.txt").id == "2023/notes.txt"
    assert load_text_file("./2023//notes.txt").id == "2023/notes.txt"  # one file, one id


def test_load_text_file_strips_bom_and_keeps_unicode(tmp_path):
    p = tmp_path / "bom.md"
    p.write_bytes("\ufeffZürich liegt in der Schweiz. 😀".encode("utf-8"))
    assert load_text_file(p).text == "Zürich liegt in der Schweiz. 😀"


def test_load_text_file_errors(tmp_path):
    with pytest.raises(NotFoundError, match="missing.txt"):
        load_text_file(tmp_path / "missing.txt")
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"GIF89a\x00\x01\x02 looks like text")
    with pytest.raises(InputError, match=r"image\.txt.*binary"):
        load_text_file(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Café in Zürich.".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin\.txt.*UTF-8") as info:
        load_text_file(latin)
    assert "byte 3" in str(info.value)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match=r"empty\.txt.*empty"):
        load_text_file(empty)
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n\n\t\n")
    with pytest.raises(InputError, match="blank.txt"):
        load_text_file(blank)
    with pytest.raises(InputError, match="not a regular file"):
        load_text_file(tmp_path)


# ------------------------------------------------------------------ folder
def test_load_folder_recursive_sorted_hidden_skipped(tmp_path):
    (tmp_path / "b.txt").write_text("Bergen is wet.")
    (tmp_path / "a.md").write_text("Alta is cold.")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "c.text").write_text("Caen is in France.")
    (tmp_path / "sub" / "deeper" / "d.txt").write_text("Dover has cliffs.")
    (tmp_path / "sub" / "rows.jsonl").write_text('{"id": "r1", "text": "Rome is old."}\n')
    (tmp_path / ".hidden.txt").write_text("secret")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.txt").write_text("also secret")
    (tmp_path / "sub" / ".cache").mkdir()
    (tmp_path / "sub" / ".cache" / "x.txt").write_text("cached")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\x00\x00")  # unknown suffix: ignored, not an error
    (tmp_path / "data.csv").write_text("a,b\n")
    docs = load_folder(tmp_path)
    assert [d.id for d in docs] == ["a.md", "b.txt", "sub/c.text", "sub/deeper/d.txt", "r1"]
    assert docs[3].text == "Dover has cliffs." and docs[3].source.endswith("d.txt")


def test_load_folder_glob_pattern(tmp_path):
    (tmp_path / "x.txt").write_text("X marks it.")
    (tmp_path / "y.md").write_text("Y is a letter.")
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "z.txt").write_text("Z is last.")
    assert [d.id for d in load_folder(tmp_path, "*.txt")] == ["x.txt"]
    assert [d.id for d in load_folder(tmp_path, "**/*.txt")] == ["n/z.txt", "x.txt"]


def test_load_folder_errors(tmp_path):
    with pytest.raises(NotFoundError, match="nowhere"):
        load_folder(tmp_path / "nowhere")
    f = tmp_path / "f.txt"
    f.write_text("A file.")
    with pytest.raises(NotFoundError):
        load_folder(f)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "latin.txt").write_bytes("Malmö".encode("latin-1"))
    with pytest.raises(InputError, match="latin.txt"):
        load_folder(tmp_path / "bad")
    assert load_folder(tmp_path / "bad", "*.md") == []


# ------------------------------------------------------------------- jsonl
def test_load_jsonl_ids_text_and_metadata(tmp_path):
    p = tmp_path / "docs.jsonl"
    write_jsonl(p, [
        {"id": "a", "text": "Oslo is in Norway.", "lang": "en"},
        "",
        "   ",
        {"text": "Bergen is in Norway."},  # no id: file:line
        {"id": "a", "text": "Duplicate id, other text."},
        {"id": 0, "text": "Zero is a valid id."},
        {"id": "", "text": "Empty id falls back."},
        {"id": 17, "text": "Numeric id."},
    ])
    docs = load_jsonl(p)
    f = p.as_posix()
    assert [d.id for d in docs] == ["a", f"{f}:4", "a#5", "0", f"{f}:7", "17"]
    assert len({d.id for d in docs}) == len(docs)
    assert docs[0].metadata == {"id": "a", "lang": "en"}
    assert docs[0].source == f"{p}:1" and docs[2].source == f"{p}:5"
    assert docs[2].text == "Duplicate id, other text."


def test_load_jsonl_custom_fields(tmp_path):
    p = tmp_path / "qa.ndjson"
    write_jsonl(p, [{"doc": "q1", "body": "Paris is in France.", "text": 3}])
    (d,) = load_jsonl(p, text_field="body", id_field="doc")
    assert (d.id, d.text) == ("q1", "Paris is in France.")
    assert "body" not in d.metadata and d.metadata["text"] == 3
    with pytest.raises(InputError, match=r"qa\.ndjson:1.*'text'"):
        load_jsonl(p)  # "text" is a number here


@pytest.mark.parametrize("rows, where, needle", [
    ([{"text": "ok"}, '{"text": "unterminated'], ":2:", "malformed JSON"),
    ([{"text": "ok"}, {"text": "ok"}, "[1, 2]"], ":3:", "JSON object"),
    (['"just a string"'], ":1:", "JSON object"),
    ([{"text": "ok"}, {"body": "no text field"}], ":2:", "'text'"),
    ([{"text": ["not", "a", "string"]}], ":1:", "list"),
    ([{"text": "   "}], ":1:", "empty"),
])
def test_load_jsonl_errors_name_file_and_line(tmp_path, rows, where, needle):
    p = tmp_path / "bad-docs.jsonl"
    write_jsonl(p, rows)
    with pytest.raises(InputError) as info:
        load_jsonl(p)
    message = str(info.value)
    assert f"bad-docs.jsonl{where}" in message and needle in message


def test_load_jsonl_malformed_line_number_counts_blank_lines(tmp_path):
    p = tmp_path / "gaps.jsonl"
    p.write_text('{"text": "a"}\n\n\n{oops}\n')
    with pytest.raises(InputError, match=r"gaps\.jsonl:4:"):
        load_jsonl(p)


def test_load_jsonl_file_errors(tmp_path):
    with pytest.raises(NotFoundError, match="none.jsonl"):
        load_jsonl(tmp_path / "none.jsonl")
    b = tmp_path / "bin.jsonl"
    b.write_bytes(b'{"text": "a"}\n\x00\x00')
    with pytest.raises(InputError, match="bin.jsonl"):
        load_jsonl(b)
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b'{"text": "a"}\r\n{"text": "b"}\r\n')
    assert [d.text for d in load_jsonl(crlf)] == ["a", "b"]


def test_iter_jsonl_yields_line_numbers(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert list(iter_jsonl(p)) == [(1, {"a": 1}), (3, {"a": 2})]


# ----------------------------------------------------------------- sources
def test_load_sources_mixed(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "one.txt").write_text("One is a number.")
    j = tmp_path / "more.jsonl"
    write_jsonl(j, [{"id": "m", "body": "More text."}])
    other = tmp_path / "README"  # no suffix: read as text
    other.write_text("Plain text file.")
    docs = load_sources(iter([tmp_path / "dir", j, other]), text_field="body")
    assert [d.id for d in docs] == ["one.txt", "m", other.as_posix()]


def test_files_with_one_name_in_two_folders_get_two_ids(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for folder, town in (("north", "Tromsø"), ("south", "Kristiansand")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.txt").write_text(f"Ada Lindqvist was born in {town}.")
        (tmp_path / folder / "rows.jsonl").write_text(json.dumps({"text": f"Tom lives in {town}."}) + "\n")
    sources = ["north/notes.txt", "south/notes.txt", "north/rows.jsonl", "south/rows.jsonl"]
    docs = load_sources(sources)
    assert [d.id for d in docs] == ["north/notes.txt", "south/notes.txt", "north/rows.jsonl:1", "south/rows.jsonl:1"]
    assert [d.id for d in load_sources(sources)] == [d.id for d in docs]  # stable
    kg = KnowledgeGraph(resolver=None)
    kg.ingest(docs[:2])
    assert kg.retract("north/notes.txt") == 1  # retracting one file leaves the other
    assert [f.as_line() for f in kg.store.neighbors("ada lindqvist")] == ["ada lindqvist --born_in--> kristiansand"]


def test_two_sources_giving_one_id_are_refused(tmp_path):
    for folder in ("v1", "v2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.txt").write_text("Ada moved to Bergen.")
    clash = r"document id 'notes\.txt' of .*v2/notes\.txt is also the id of .*v1/notes\.txt"
    with pytest.raises(InputError, match=clash):
        load_sources([tmp_path / "v1", tmp_path / "v2"])
    write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "text": "One."}])
    write_jsonl(tmp_path / "b.jsonl", [{"id": "x", "text": "Two."}])
    with pytest.raises(InputError, match=r"'x' of .*b\.jsonl:1 is also the id of .*a\.jsonl:1"):
        load_sources([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])


def test_load_sources_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no documents") as info:
        load_sources(x for x in [tmp_path / "empty"])
    assert "empty" in str(info.value)  # the message names the source even for a generator
    with pytest.raises(InputError, match="no documents"):
        load_sources([])
    with pytest.raises(NotFoundError, match="ghost.txt"):
        load_sources([tmp_path / "ghost.txt"])


# --------------------------------------------------------------------- kb
def test_read_kb_tsv(tmp_path):
    p = tmp_path / "kb.tsv"
    p.write_text(
        "# a comment line\n"
        "\n"
        "Ada_Lindqvist_of_Tromsø\tborn_in\tNorth_Harbour\n"
        "  \n"
        "ada_lindqvist_of_tromsø\tmayor_of\tTromsø\n"
        "North_Harbour\tlocated_in\tTromsø\r\n",
        encoding="utf-8",
    )
    delta = read_kb_tsv(p)
    assert [f.as_line() for f in delta.facts] == [
        "ada lindqvist of tromsø --born_in--> north harbour",
        "ada lindqvist of tromsø --mayor_of--> tromsø",
        "north harbour --located_in--> tromsø",
    ]
    # names kept as first written, ids normalised
    assert delta.entities == [
        Entity("ada lindqvist of tromsø", "Ada_Lindqvist_of_Tromsø"),
        Entity("north harbour", "North_Harbour"),
        Entity("tromsø", "Tromsø"),
    ]
    f = delta.facts[1]
    (pr,) = f.provenance
    assert (pr.doc_id, pr.chunk, pr.extractor) == ("kb:kb.tsv", 5, "tsv")
    assert pr.sentence == "ada_lindqvist_of_tromsø\tmayor_of\tTromsø"


def test_read_kb_tsv_accepts_any_non_empty_name(tmp_path):
    p = tmp_path / "symbols.tsv"
    p.write_text(".\tis_a\tpunctuation_mark\n"
                 "Ada_Lindqvist\tfavourite_reply\t!!!\n"
                 "?\tnamed_by\tAda_Lindqvist\n"
                 "'.'\tsame_as\t.\n", encoding="utf-8")
    delta = read_kb_tsv(p)
    assert [f.as_line() for f in delta.facts] == [
        ". --is_a--> punctuation mark",
        "ada lindqvist --favourite_reply--> !!!",
        "? --named_by--> ada lindqvist",
        "'.' --same_as--> .",
    ]
    assert [(e.id, e.name) for e in delta.entities] == [
        (".", "."), ("punctuation mark", "punctuation_mark"), ("ada lindqvist", "Ada_Lindqvist"), ("!!!", "!!!"),
        ("?", "?"), ("'.'", "'.'")]


@pytest.mark.parametrize("line, reason", [
    ("only\ttwo", "expected 3 tab-separated fields .* got 2"),
    ("one\ttwo\tthree\tfour", "expected 3 tab-separated fields .* got 4"),
    ("a\tr\tb\t", "expected 3 tab-separated fields .* got 4"),
    ("no tabs at all here", "expected 3 tab-separated fields .* got 1"),
    ("subject\t\tobject", "empty relation field"),
    (" \tr\t\u00a0", "empty subject and object field"),
])
def test_read_kb_tsv_malformed_line_names_file_and_line(tmp_path, line, reason):
    p = tmp_path / "facts.tsv"
    p.write_text("# header\na\tr\tb\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"facts\.tsv:3: {reason}"):
        read_kb_tsv(p)


def test_read_kb_tsv_empty_and_missing(tmp_path):
    p = tmp_path / "empty.tsv"
    p.write_text("# only comments\n\n")
    with pytest.raises(InputError, match=r"empty\.tsv.*no facts"):
        read_kb_tsv(p)
    with pytest.raises(NotFoundError, match="absent.tsv"):
        read_kb_tsv(tmp_path / "absent.tsv")
