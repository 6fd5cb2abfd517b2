"""Text QA: answer composition from evidence, support judgement, the eval's metrics and input checks, the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.errors import InputError
from kgllm.eval.textqa import exact_match, read_textqa, recall_at, token_f1
from kgllm.reason.support import judge_support, question_type, relation_words
from kgllm.reason.textanswer import answer_from_evidence
from kgllm.retrieve.evidence import EvidenceRetriever
from kgllm.retrieve.passages import passages_from_documents
from kgllm.types import Document
from tests.unit.test_evidence import BagEmbedder

SENT = "Ines Kobal was born in Velmora in 1961."


@pytest.mark.parametrize("answer, kind, question, reason", [
    ("Velmora", "place", "Where was Ines Kobal born?", None),
    ("1961", "date", "When was Ines Kobal born?", None),
    ("1961", "date", "Where was Ines Kobal born?", "the answer is a date"),
    ("Lisbon", "place", "Where was Ines Kobal born?", "does not contain the answer"),
    ("Velmora", "place", "Where did Ines Kobal study?", "no relation word"),
    ("Velmora", "place", "Where was Rui Sola born?", "none of the question's entities"),
    ("Velmora", "place", "What was Ines Kobal born?", "answer type is unknown"),
    ("Velmora", "", "Where was Ines Kobal born?", "kind is unknown"),
])
def test_judge_support(answer, kind, question, reason):
    ents = [e for e in ("Ines Kobal", "Rui Sola") if e in question]
    j = judge_support(question, answer, SENT, "Ines Kobal", ents, kind)
    assert j.supported is (reason is None)
    assert (j.confidence >= 0.5) is j.supported, j.confidence    # a failed check takes the confidence under a half
    if reason:
        assert any(reason in r for r in j.reasons)


def test_supported_answers_are_more_confident_than_unsupported_ones():
    good = judge_support("Where was Ines Kobal born?", "Velmora", SENT, "", ["Ines Kobal"], "place")
    wrong_kind = judge_support("Where was Ines Kobal born?", "1961", SENT, "", ["Ines Kobal"], "date")
    off_topic = judge_support("Where was Rui Sola born?", "Velmora", SENT, "", ["Rui Sola"], "place")
    assert good.confidence > max(wrong_kind.confidence, off_topic.confidence)


def test_bridged_passage_counts_for_the_entity_check():
    q = "Where was the founder of Kestrel Works born?"
    sentence = "Mara Osei was born in Kumasi."
    assert not judge_support(q, "Kumasi", sentence, "Mara Osei", ["Kestrel Works"], "place").supported
    assert judge_support(q, "Kumasi", sentence, "Mara Osei", ["Kestrel Works"], "place", bridged=True).supported


def test_nested_question_is_not_answered_in_the_named_entitys_own_passage():
    q = "Where was the chemist who founded Kestrel Works born?"
    sentence = "Kestrel Works was founded by a chemist born in Kumasi."
    own = judge_support(q, "Kumasi", sentence, "Kestrel Works", ["Kestrel Works"], "place", own_passage=True)
    assert not own.supported and any("nested" in r for r in own.reasons)
    flat = judge_support("Where was Kestrel Works founded?", "Kumasi", "Kestrel Works was founded in Kumasi.",
                         "Kestrel Works", ["Kestrel Works"], "place", own_passage=True)
    assert flat.supported


def test_question_type_reads_a_late_question_word_and_relation_words():
    assert question_type("The bridge over the Tarn was built in which year?").kinds == frozenset({"date"})
    assert question_type("Tarn is a lake") is None
    assert relation_words("Who designed the bridge that Ana Ruiz painted?", ["Ana Ruiz"]) == {
        "design", "bridge", "paint"}


DOCS = [Document("Ines Kobal", "Ines Kobal is a chemist. She was born in 1961 in Velmora."),
        Document("Rui Sola", "Rui Sola is a painter. He was born in 1954."),
        Document("Velmora", "Velmora is a small settlement in the hills.")]


def _answer(question):
    passages = passages_from_documents(DOCS)
    evidence = EvidenceRetriever(passages, None, BagEmbedder()).retrieve(question)
    return answer_from_evidence(question, evidence, None, BagEmbedder())


def test_answer_span_of_the_expected_type_with_its_citation():
    ans = _answer("In what year was Ines Kobal born?")
    assert (ans.text, ans.supported, ans.doc_id) == ("1961", True, "Ines Kobal")
    assert ans.sentence == "She was born in 1961 in Velmora."


def test_comparison_by_dates_and_yes_no_abstains():
    older = _answer("Who was born first, Ines Kobal or Rui Sola?")
    assert (older.text, older.supported) == ("Rui Sola", True)
    younger = _answer("Who was born later, Ines Kobal or Rui Sola?")
    assert younger.text == "Ines Kobal"
    yes_no = _answer("Was Ines Kobal born in Velmora?")
    assert (yes_no.text, yes_no.supported) == ("yes", False)


def test_metrics():
    assert exact_match("the Sava.", ["Sava"]) == 1.0 and exact_match("Sava river", ["Sava"]) == 0.0
    assert token_f1("Sava river", ["the Sava"]) == pytest.approx(2 / 3)
    assert token_f1("", ["Sava"]) == 0.0
    assert recall_at(["a", "b", "c"], ["c", "c", "a"], 2) == 0.5
    assert recall_at(["a"], [], 5) == 0.0


def _item(**over):
    item = {"id": "t1", "question": "When was Ines Kobal born?", "answers": ["1961"],
            "documents": [{"title": d.id, "text": d.text} for d in DOCS], "supporting": ["Ines Kobal"]}
    item.update(over)
    return item


@pytest.mark.parametrize("bad, message", [
    ("{not json", ":2"),
    (json.dumps(_item(question="")), "question"),
    (json.dumps(_item(answers=[])), "answers"),
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


@pytest.mark.slow
def test_cli_eval_textqa_reports_kgllm_and_dense(tmp_path):
    from kgllm.cli import app

    path = tmp_path / "qa.jsonl"
    items = [_item(), _item(id="t2", question="Where was Rui Sola born?", answers=["Lisbon"],
                            supporting=["Rui Sola"])]
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    details, cache = tmp_path / "details.jsonl", tmp_path / "graphs"
    args = ["eval", "textqa", str(path), "--json", "--details", str(details), "--graph-cache", str(cache)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 2 and set(report) == {"n", "kgllm", "dense"}
    assert report["kgllm"]["recall@5"] == 1.0 == report["dense"]["recall@5"]   # three documents: all in the top 5
    assert report["kgllm"]["em"] == 0.5                                          # 1961 right; Lisbon is nowhere
    records = [json.loads(line) for line in details.read_text().splitlines()]
    assert records[0]["answer"] == "1961" and records[0]["supported"]
    assert not records[1]["supported"] and records[1]["reasons"]
    assert len(list(cache.glob("*.json"))) == 1                                 # both items: the same documents
    again = CliRunner().invoke(app, args)                                        # graphs read back from the cache
    assert json.loads(again.stdout) == report
    bad = CliRunner().invoke(app, ["eval", "textqa", str(path), "--baseline", "bm25"])
    assert bad.exit_code == 2 and "only baseline" in bad.output
