"""The text-QA evaluation: its metrics, input checks, corpus folders and the CLI (answers come from Reasoner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.errors import InputError
from kgllm.eval.textqa import exact_match, read_textqa, recall_at, summary, token_f1
from kgllm.reason.support import question_type
from kgllm.types import Document

DOCS = [Document("Ines Kobal", "Ines Kobal is a chemist. She was born in 1961 in Velmora."),
        Document("Rui Sola", "Rui Sola is a painter. He was born in 1954."),
        Document("Velmora", "Velmora is a small settlement in the hills.")]


def test_question_type_reads_a_late_question_word():
    assert question_type("The bridge over the Tarn was built in which year?").kinds == frozenset({"date"})
    assert question_type("Tarn is a lake") is None


def test_metrics():
    assert exact_match("the Sava.", ["Sava"]) == 1.0 and exact_match("Sava river", ["Sava"]) == 0.0
    assert exact_match("Ines Kobal and Rui Sola", ["Rui Sola", "Ines Kobal"]) == 1.0   # a list: every part is right
    assert exact_match("Ines Kobal and Ada Lind", ["Ines Kobal"]) == 0.0
    assert token_f1("Sava river", ["the Sava"]) == pytest.approx(2 / 3)
    assert token_f1("", ["Sava"]) == 0.0
    assert recall_at(["a", "b", "c"], ["c", "c", "a"], 2) == 0.5
    assert recall_at(["a"], [], 5) == 0.0


def _item(**over):
    item = {"id": "t1", "question": "When was Ines Kobal born?", "answers": ["1961"],
            "documents": [{"title": d.id, "text": d.text} for d in DOCS], "supporting": ["Ines Kobal"]}
    item.update(over)
    return item


def test_summary_counts_a_supported_answer_to_an_unanswerable_question_as_wrong():
    rows = [{"gold": ["1961"], "em": 1.0, "f1": 1.0, "supported": True, "confidence": 0.9},
            {"gold": ["Lisbon"], "em": 0.0, "f1": 0.0, "supported": False, "confidence": 0.0},
            {"gold": [], "em": 0.0, "f1": 0.0, "supported": True, "confidence": 0.8},
            {"gold": [], "em": 0.0, "f1": 0.0, "supported": False, "confidence": 0.0}]
    report = summary(rows)
    assert (report["answerable"], report["unanswerable"]) == (2, 2)
    assert report["em"] == 0.5 and report["supported"] == 0.5
    assert report["precision"] == 0.5            # the unanswerable one claimed supported counts wrong
    assert report["abstention"] == 0.5 and report["safe"] == 0.75


@pytest.mark.parametrize("bad, message", [
    ("{not json", ":2"),
    (json.dumps(_item(question="")), "question"),
    (json.dumps(_item(answers="1961")), "answers"),
    (json.dumps(_item(documents=[{"title": "A"}])), "documents[0]"),
    (json.dumps(_item(supporting="A")), "supporting"),
])
def test_read_textqa_names_file_line_and_field(tmp_path, bad, message):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps(_item()) + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="qa.jsonl") as info:
        read_textqa(path)
    assert message in str(info.value)
    assert len(read_textqa(path, limit=1)) == 1


def test_unanswerable_questions_are_read(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps(_item(answers=[])) + "\n", encoding="utf-8")
    assert read_textqa(path)[0]["answers"] == []


@pytest.mark.slow
def test_cli_eval_textqa_reports_kgllm_and_dense(tmp_path):
    from kgllm.cli import app

    path = tmp_path / "qa.jsonl"
    items = [_item(), _item(id="t2", question="Where was Rui Sola born?", answers=[], supporting=["Rui Sola"])]
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    details, cache = tmp_path / "details.jsonl", tmp_path / "graphs"
    args = ["eval", "textqa", str(path), "--json", "--details", str(details), "--graph-cache", str(cache)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 2 and report["mode"] == "per item" and {"kgllm", "dense"} <= set(report)
    assert report["kgllm"]["recall@5"] == 1.0 == report["dense"]["recall@5"]   # three documents: all in the top 5
    assert report["kgllm"]["em"] == 1.0 and report["kgllm"]["abstention"] == 1.0
    assert report["kgllm"]["precision"] == 1.0 and report["kgllm"]["safe"] == 1.0
    records = [json.loads(line) for line in details.read_text().splitlines()]
    assert records[0]["answer"] == "1961" and records[0]["supported"] and records[0]["cited"]
    assert not records[1]["supported"] and records[1]["reasons"]                # the text never says where
    assert len(list(cache.glob("*.json"))) == 1                                 # both items: the same documents
    again = CliRunner().invoke(app, args)                                        # graphs read back from the cache
    assert json.loads(again.stdout) == report
    corpus = CliRunner().invoke(app, ["eval", "textqa", str(path), "--json", "--corpus"])
    assert json.loads(corpus.stdout)["mode"] == "corpus"
    bad = CliRunner().invoke(app, ["eval", "textqa", str(path), "--baseline", "bm25"])
    assert bad.exit_code == 2 and "only baseline" in bad.output


def test_a_corpus_folder_is_one_graph_with_its_questions(tmp_path):
    from kgllm.eval.textqa import read_corpus

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "kobal.txt").write_text(DOCS[0].text, encoding="utf-8")
    (tmp_path / "questions.jsonl").write_text(json.dumps({"question": "Where was Ines Kobal born?",
                                                          "answers": ["Velmora"]}) + "\n", encoding="utf-8")
    docs, items = read_corpus(tmp_path)
    assert [d.id for d in docs] == ["kobal"] and items[0]["answers"] == ["Velmora"]
    (tmp_path / "questions.jsonl").unlink()
    with pytest.raises(InputError, match="questions.jsonl"):
        read_corpus(tmp_path)
