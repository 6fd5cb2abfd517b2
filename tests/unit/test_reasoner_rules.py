"""Rule inference in the Reasoner: relations the graph lacks are derived, and answers cite the premises."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgllm.errors import InputError, NotFoundError
from kgllm.graph import KnowledgeGraph
from kgllm.reason.reasoner import Reasoner, ReasonerConfig
from kgllm.reason.relations import asked_relation, related_pair
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance

FAMILY = "Mara Lind has a son named Teo. Teo has a daughter named Ines."


@pytest.fixture(scope="module")
def family() -> KnowledgeGraph:
    from kgllm.extract.rules import RuleExtractor

    kg = KnowledgeGraph(extractor=RuleExtractor(kinship=True, genders=True))
    kg.ingest(FAMILY)
    return kg


def _office() -> MemoryStore:
    store = MemoryStore()
    sent = "Oda Vestre manages Per Holm."
    store.upsert(GraphDelta(entities=[Entity.from_name("Oda Vestre"), Entity.from_name("Per Holm")],
                            facts=[Fact("oda vestre", "manages", "per holm",
                                        provenance=(Provenance("memo", 0, 0, len(sent), "rules", sent),))]))
    return store


def test_granddaughter_is_derived_and_cites_the_premises_with_their_sentences(family: KnowledgeGraph) -> None:
    ans = Reasoner(family, llm=None, config=ReasonerConfig(rules=["kinship"])).ask(
        "Name the granddaughter Mara Lind has.")
    assert ans.supported and ans.text == "Ines"
    assert ans.facts[0].relation == "granddaughter"
    assert {f.relation for f in ans.facts[1:]} >= {"son", "daughter"}
    assert {p.sentence for p in ans.sources} == {"Mara Lind has a son named Teo.", "Teo has a daughter named Ines."}
    assert "granddaughter" in ans.cite()


def test_without_rules_the_graph_cannot_name_the_granddaughter_relation(family: KnowledgeGraph) -> None:
    question = "Name the granddaughter Mara Lind has."
    stored = {f.id for f in family.store.facts()}
    derived = Reasoner(family, llm=None, config=ReasonerConfig(rules=["kinship"])).ask(question)
    assert any(f.id not in stored for f in derived.facts)     # with the rules an answer cites a derived fact ...
    ans = Reasoner(family, llm=None).ask(question)
    assert all(f.id in stored for f in ans.facts)              # ... without them, only facts the graph holds
    assert not any(f.relation == "granddaughter" for f in ans.facts)


def test_how_is_a_related_to_b_names_the_derived_relation(family: KnowledgeGraph) -> None:
    ans = Reasoner(family, llm=None, config=ReasonerConfig(rules=["kinship"])).ask(
        "How is Ines related to Mara Lind?")
    assert ans.supported and ans.text == "granddaughter"
    assert ans.facts[0].relation == "granddaughter" and len(ans.sources) == 2


def test_relation_method_uses_the_rules_on_a_family_path(family: KnowledgeGraph) -> None:
    reasoner = Reasoner(family, llm=None, config=ReasonerConfig(rules=["kinship"]))
    teo = reasoner._entity("Teo")
    ines = reasoner._entity("Ines")
    assert teo is not None and ines is not None
    ans = reasoner.relation(teo, ines)
    assert ans.text == "daughter" and ans.sources


def test_a_custom_rule_file_derives_a_relation_and_cites_the_source(tmp_path: Path) -> None:
    rules = tmp_path / "office.rules"
    rules.write_text("# who reports to whom\nX manages Y => Y reports_to X\n", encoding="utf-8")
    store = _office()
    plain = Reasoner(store, llm=None).ask("Who does Per Holm report to?")
    assert not any(f.relation == "reports_to" for f in plain.facts)
    ans = Reasoner(store, llm=None, config=ReasonerConfig(rules=[str(rules)])).ask("Who does Per Holm report to?")
    assert ans.supported and ans.text == "Oda Vestre"
    assert [f.as_line() for f in ans.facts] == ["Per Holm --reports_to--> Oda Vestre",   # names as cite() shows
                                                "Oda Vestre --manages--> Per Holm"]
    assert ans.sources[0].sentence == "Oda Vestre manages Per Holm."


def test_rules_leave_questions_the_graph_answers_alone(tmp_path: Path) -> None:
    rules = tmp_path / "office.rules"
    rules.write_text("X manages Y => Y reports_to X\n", encoding="utf-8")
    ans = Reasoner(_office(), llm=None, config=ReasonerConfig(rules=[str(rules)])).ask("Whom does Oda Vestre manage?")
    assert ans.text == "Per Holm" and [f.relation for f in ans.facts] == ["manages"]


def test_bad_rule_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no built-in rule file"):
        Reasoner(_office(), llm=None, config=ReasonerConfig(rules=["no-such-rules"]))
    bad = tmp_path / "bad.rules"
    bad.write_text("X manages => Y\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.rules:1"):
        Reasoner(_office(), llm=None, config=ReasonerConfig(rules=[str(bad)]))


def test_question_parsing_helpers() -> None:
    assert asked_relation("Who does Bo report to?", {"reports_to", "manages"}, ["Bo"]) == "reports_to"
    assert asked_relation("Where was Bo's father born?", {"father"}, ["Bo"]) is None
    assert asked_relation("Where was Bo born?", {"reports_to"}) is None
    assert related_pair("how is Bo related to Ann Lee") == ("Bo", "Ann Lee")
    assert related_pair("Who is Bo?") is None


def test_cli_ask_rules_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kgllm.cli import app

    graph = tmp_path / "office.json"
    KnowledgeGraph(_office()).save(graph)
    rules = tmp_path / "office.rules"
    rules.write_text("X manages Y => Y reports_to X\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ask", "Who does Per Holm report to?", "--graph", str(graph), "--no-llm",
                                      "--json", "--rules", str(rules)])
    assert result.exit_code == 0, result.output
    assert '"answer": "Oda Vestre"' in result.output and "reports_to" in result.output
