"""``kgllm ask --file``: many questions, one load of the models, one JSON object a line; bad input fails before
anything loads (issue 22, item 6)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.reason import reasoner as reasoner_module
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance

runner = CliRunner()
FACTS = [("ada lindqvist", "born_in", "tromsø", "Ada Lindqvist was born in Tromsø."),
         ("tromsø", "located_in", "norway", "Tromsø is located in Norway."),
         ("mara osei", "founded", "kestrel dynamics", "Mara Osei founded Kestrel Dynamics.")]


@pytest.fixture
def graph(tmp_path):
    store = MemoryStore.open(tmp_path / "g.sqlite", create=True)
    delta = GraphDelta(entities=[Entity.from_name(n) for n in ("Ada Lindqvist", "Tromsø", "Norway", "Mara Osei",
                                                               "Kestrel Dynamics")])
    for i, (s, r, o, text) in enumerate(FACTS):
        delta.facts.append(Fact(s, r, o, provenance=(Provenance(f"doc{i}", 0, 0, len(text), "rules", text),)))
    store.upsert(delta)
    store.close()
    return str(tmp_path / "g.sqlite")


@pytest.fixture
def counted(monkeypatch):
    """Counts the Reasoners made and the ask_many calls (the real ones run)."""
    calls = {"reasoners": 0, "ask_many": []}
    init, ask_many = reasoner_module.Reasoner.__init__, reasoner_module.Reasoner.ask_many

    def counting_init(self, *args, **kwargs):
        calls["reasoners"] += 1
        init(self, *args, **kwargs)

    def counting_ask_many(self, questions, *args, **kwargs):
        calls["ask_many"].append(list(questions))
        return ask_many(self, questions, *args, **kwargs)

    monkeypatch.setattr(reasoner_module.Reasoner, "__init__", counting_init)
    monkeypatch.setattr(reasoner_module.Reasoner, "ask_many", counting_ask_many)
    return calls


QUESTIONS = ["In which country was Ada Lindqvist born?", "Where was Ada Lindqvist born?",
             "Who founded Kestrel Dynamics?"]


def test_a_file_of_questions_is_answered_with_one_load_one_json_object_a_line(tmp_path, graph, counted):
    file = tmp_path / "questions.txt"
    file.write_text(QUESTIONS[0] + "\n\n" + "\n".join(QUESTIONS[1:]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["ask", "--file", str(file), "--graph", graph, "--no-llm", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == QUESTIONS
    assert [r["answer"] for r in rows] == ["Norway", "Tromsø", "Mara Osei"]
    assert counted["reasoners"] == 1 and counted["ask_many"] == [QUESTIONS]    # one load, one batch


def test_jsonl_questions_keep_their_ids_and_plain_output_lists_each_answer(tmp_path, graph, counted):
    file = tmp_path / "questions.jsonl"
    file.write_text("".join(json.dumps({"id": f"q{i}", "question": q}) + "\n" for i, q in enumerate(QUESTIONS)),
                    encoding="utf-8")
    as_json = runner.invoke(app, ["ask", "-f", str(file), "--graph", graph, "--no-llm", "--json"])
    assert [json.loads(line)["id"] for line in as_json.stdout.splitlines()] == ["q0", "q1", "q2"]
    plain = runner.invoke(app, ["ask", "-f", str(file), "--graph", graph, "--no-llm"])
    assert plain.exit_code == 0, plain.output
    assert [line for line in plain.stdout.splitlines() if line.startswith(("Q:", "A:"))] == [
        f"Q: {QUESTIONS[0]}", "A: Norway", f"Q: {QUESTIONS[1]}", "A: Tromsø", f"Q: {QUESTIONS[2]}", "A: Mara Osei"]


@pytest.mark.parametrize("argv, says", [
    (["ask", ""], "empty question: nothing to answer"),
    (["ask", "   "], "empty question: nothing to answer"),
    (["ask"], "give a QUESTION or --file QUESTIONS"),
])
def test_bad_questions_fail_before_anything_loads(tmp_path, counted, argv, says):
    result = runner.invoke(app, [*argv, "--graph", str(tmp_path / "missing.sqlite")])
    assert result.exit_code == 2 and says in result.stderr, result.output
    assert counted["reasoners"] == 0 and "loading models" not in result.stderr


def test_every_bad_line_of_a_questions_file_is_named_before_anything_loads(tmp_path, counted):
    file = tmp_path / "questions.jsonl"
    file.write_text('{"question": "Who founded Kestrel Dynamics?"}\n{oops}\n{"id": 3}\n', encoding="utf-8")
    result = runner.invoke(app, ["ask", "--file", str(file), "--graph", str(tmp_path / "missing.sqlite")])
    assert result.exit_code == 2, result.output
    assert f"2 bad lines in {file}" in result.stderr
    assert f"{file}:2: malformed JSON" in result.stderr and f"{file}:3: expected an object" in result.stderr
    assert counted["reasoners"] == 0
