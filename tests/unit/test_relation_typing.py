"""Relation typing: extracted phrases mapped onto a schema's relations by meaning, direction and type.

Real MiniLM embeddings and the real spaCy pipeline, on sentences written for the project.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.errors import ConfigError, InputError
from kgllm.eval.extraction import evaluate_extraction
from kgllm.extract.base import ExtractionResult, SkippedDocument
from kgllm.extract.typing import RelationTyper, is_agent_noun_of
from kgllm.graph import KnowledgeGraph
from kgllm.schema import RelationSpec, Schema
from kgllm.types import Entity, Fact, GraphDelta, Provenance

runner = CliRunner()
PEOPLE = Schema.from_names(["birthPlace", "employer"])


def lines(kg: KnowledgeGraph) -> list[str]:
    names = {e.id: e.name for e in kg.store.entities()}
    return sorted(f.as_line(names) for f in kg.store.facts())


def test_knowledge_graph_types_facts_onto_the_schema():
    kg = KnowledgeGraph(schema=PEOPLE)
    kg.ingest("Ines Varga was born in Kestrel Bay.")
    assert lines(kg) == ["Ines Varga --birthPlace--> Kestrel Bay"]
    plain = KnowledgeGraph()
    plain.ingest("Ines Varga was born in Kestrel Bay.")
    assert lines(plain) == ["Ines Varga --born_in--> Kestrel Bay"]


def test_knowledge_graph_accepts_a_schema_file(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(["birthPlace", "employer"]), encoding="utf-8")
    assert KnowledgeGraph(schema=path).schema == PEOPLE


def test_noun_of_phrase_swaps_to_the_noun_relation():
    kg = KnowledgeGraph(schema=Schema.from_names(["capital", "country"]))
    kg.ingest("Kestrel Bay is the capital of Varnland.")
    assert lines(kg) == ["Varnland --capital--> Kestrel Bay"]


def test_direction_rules():
    typer = RelationTyper(Schema.from_names(["isPartOf", "discoverer", "capital"]))
    assert typer.choose("part_of") == ("isPartOf", False)      # the relation reads "of" itself: kept
    assert typer.choose("capital_of") == ("capital", True)     # "X is the capital of Y" -> capital(Y, X)
    assert typer.choose("discover") == ("discoverer", True)    # "X discovered Y" -> discoverer(Y, X)
    assert typer.choose("discovered_by") == ("discoverer", False)
    assert is_agent_noun_of("write", "writer") and not is_agent_noun_of("club", "member")


def test_abstains_below_threshold_and_on_function_words():
    typer = RelationTyper(PEOPLE)
    assert typer.choose("favourite_colour") is None
    assert typer.choose("is_a") is None and typer.choose("be_in") is None
    assert RelationTyper(PEOPLE, threshold=-1.0).choose("favourite_colour") is not None


def test_type_delta_drops_or_keeps_abstained_facts_and_keeps_skipped():
    prov = Provenance("d", 0, extractor="test", sentence="Ines Varga likes teal.")
    delta = ExtractionResult(entities=[Entity("ines", "Ines Varga", "PERSON"), Entity("teal", "teal")],
                             facts=[Fact("ines", "favourite_colour", "teal", 0.8, (prov,))],
                             skipped=[SkippedDocument("e", -1, "empty text")])
    dropped = RelationTyper(PEOPLE).type_delta(delta)
    assert isinstance(dropped, ExtractionResult)
    assert (dropped.facts, [s.doc_id for s in dropped.skipped]) == ([], ["e"])
    assert [e.id for e in dropped.entities] == ["ines", "teal"]
    kept = RelationTyper(PEOPLE, keep_unmatched=True).type_delta(delta)
    assert [f.as_line() for f in kept.facts] == ["ines --favourite_colour--> teal"]


def test_phrases_that_become_one_triple_are_joined():
    a, b = Provenance("d", 0, extractor="test"), Provenance("d", 1, extractor="test")
    delta = GraphDelta([Entity("ines", "Ines"), Entity("kb", "Kestrel Bay")],
                       [Fact("ines", "born_in", "kb", 0.7, (a,)), Fact("ines", "birth_place", "kb", 0.9, (b,))])
    typed = RelationTyper(PEOPLE).type_delta(delta)
    assert [(f.as_line(), f.confidence, len(f.provenance)) for f in typed.facts] == \
        [("ines --birthPlace--> kb", 0.9, 2)]


def test_type_clash_lowers_the_score_by_the_penalty_and_unknown_types_cost_nothing():
    typer = RelationTyper(Schema((RelationSpec("origin", domain="Person", range="Place"),)), type_penalty=0.2)
    base = float(typer.scores("come_from")[0][0])
    assert float(typer.scores("come_from", object_label="GPE")[0][0]) == pytest.approx(base)
    assert float(typer.scores("come_from", object_label="DATE")[0][0]) == pytest.approx(base - 0.2)
    assert float(typer.scores("come_from", "ORG", "DATE")[0][0]) == pytest.approx(base - 0.4)
    assert float(typer.scores("come_from", "", "WEIRD_LABEL")[0][0]) == pytest.approx(base - 0.2)


def test_range_named_by_the_relation_decides_between_close_relations():
    typer = RelationTyper(Schema.from_names(["birthPlace", "birthDate"]))
    assert typer.choose("born_in", object_label="GPE") == ("birthPlace", False)
    assert typer.choose("born_in", object_label="DATE") == ("birthDate", False)


def test_bad_arguments():
    with pytest.raises(InputError, match="at least one relation"):
        RelationTyper(Schema())
    with pytest.raises(InputError, match=r"sentence_weight must be in \[0, 1\]"):
        RelationTyper(PEOPLE, sentence_weight=2.0)


def test_eval_extraction_uses_the_items_relations(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"text": "Ines Varga was born in Kestrel Bay.",
                                "triples": [["Ines Varga", "birthPlace", "Kestrel Bay"]],
                                "relations": ["birthPlace", "employer"]}) + "\n", encoding="utf-8")
    typed = evaluate_extraction(path)
    assert (typed["typed"], typed["strict"]["f1"], typed["relaxed"]["f1"]) == (1, 1.0, 1.0)
    raw = evaluate_extraction(path, use_schema=False)
    assert (raw["typed"], raw["strict"]["f1"], raw["relaxed"]["f1"]) == (0, 0.0, 1.0)
    cli = runner.invoke(app, ["eval", "extraction", str(path), "--no-schema", "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["strict"]["f1"] == 0.0


def test_build_with_schema(tmp_path):
    docs = tmp_path / "people.txt"
    docs.write_text("Ines Varga was born in Kestrel Bay.\n", encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps([{"name": "birthPlace", "description": "where a person was born",
                                   "domain": "Person", "range": "Place"}, "employer"]), encoding="utf-8")
    graph = tmp_path / "g.json"
    built = runner.invoke(app, ["build", str(docs), "--graph", str(graph), "--schema", str(schema)])
    assert built.exit_code == 0, built.output
    assert lines(KnowledgeGraph.load(graph)) == ["Ines Varga --birthPlace--> Kestrel Bay"]


def test_build_with_a_bad_schema_fails_before_writing(tmp_path):
    docs = tmp_path / "people.txt"
    docs.write_text("Ines Varga was born in Kestrel Bay.\n", encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text('{"relation": ["birthPlace"]}', encoding="utf-8")
    graph = tmp_path / "g.json"
    built = runner.invoke(app, ["build", str(docs), "--graph", str(graph), "--schema", str(schema)])
    assert built.exit_code == 2
    assert "expected a 'relations' field" in built.stderr and "schema.json" in built.stderr
    assert not graph.exists()


def test_canonicalize_joins_word_forms_but_not_directions_or_voices():
    from kgllm.extract.typing import canonicalize_relations

    prov = Provenance("d", 0, extractor="test")
    rels = ["located_in", "located_in", "locate_in", "capital_of", "capital", "named", "name", "is_a", "be_a"]
    delta = GraphDelta(facts=[Fact(f"s{k}", r, f"o{k}", 1.0, (prov,)) for k, r in enumerate(rels)])
    assert [f.relation for f in canonicalize_relations(delta).facts] == \
        ["located_in", "located_in", "located_in", "capital_of", "capital", "named", "name", "is_a", "be_a"]


class TwoSpellings:
    name = "test"

    def extract(self, docs, progress: bool = False) -> GraphDelta:
        prov = Provenance(docs[0].id, 0, extractor="test", sentence=docs[0].text)
        return GraphDelta([Entity("ines", "Ines"), Entity("kb", "Kestrel Bay"), Entity("omar", "Omar"),
                           Entity("vl", "Varnland")],
                          [Fact("ines", "located_in", "kb", 1.0, (prov,)), Fact("omar", "locate_in", "vl", 1.0, (prov,)),
                           Fact("ines", "located_in", "vl", 1.0, (prov,))])


def test_knowledge_graph_canonicalize_is_opt_in():
    text = "Ines lives in Kestrel Bay; Omar lives in Varnland."
    joined = KnowledgeGraph(extractor=TwoSpellings(), resolver=None, canonicalize=True)
    joined.ingest(text)
    assert sorted({f.relation for f in joined.store.facts()}) == ["located_in"]
    plain = KnowledgeGraph(extractor=TwoSpellings(), resolver=None)
    plain.ingest(text)
    assert sorted({f.relation for f in plain.store.facts()}) == ["locate_in", "located_in"]


def test_facts_the_model_already_typed_are_kept_as_they_are() -> None:
    from kgllm.extract.typing import RelationTyper
    from kgllm.schema import Schema
    from kgllm.types import Fact, GraphDelta, Provenance

    typer = RelationTyper(Schema.from_names(["capital", "isPartOf"]))
    lm_fact = Fact("norway", "capital", "oslo", 0.6, (Provenance("d", 0, extractor="lm"),))
    rule_fact = Fact("oslo", "capital_of", "norway", 1.0, (Provenance("d", 0, extractor="rules"),))
    out = typer.type_delta(GraphDelta(facts=[lm_fact, rule_fact]))
    assert [(f.subject, f.relation, f.object) for f in out.facts] == [("norway", "capital", "oslo")]
    assert len(out.facts[0].provenance) == 2      # the rule's fact, typed, is the same triple: joined


# ------------------------------------------------------------------ schema violations (on_violation)
BIRTH = Schema((RelationSpec("birthPlace", domain="Person", range="Place"),
                RelationSpec("capital", domain="Place", range="Place")))


def violation_delta() -> GraphDelta:
    def prov(k: int, sentence: str) -> tuple[Provenance, ...]:
        return (Provenance("d", k, extractor="test", sentence=sentence),)

    return GraphDelta(
        [Entity("oda", "Oda Lind", "PERSON"), Entity("1990", "1990", "DATE"), Entity("vik", "Vik", "GPE"),
         Entity("probe", "Probe Nine", "Spacecraft"), Entity("brel", "Brel", "")],
        [Fact("oda", "born_in", "1990", 0.9, prov(0, "Oda Lind was born in 1990.")),
         Fact("oda", "born_in", "vik", 0.9, prov(1, "Oda Lind was born in Vik.")),
         Fact("probe", "born_in", "brel", 0.9, prov(2, "Probe Nine was born in Brel.")),  # unknown types
         Fact("vik", "capital_of", "1990", 0.9, prov(3, "Vik is the capital of 1990."))])


@pytest.mark.parametrize("mode", ["penalize", "report", "drop"])
def test_on_violation_penalizes_reports_or_drops(mode):
    typer = RelationTyper(BIRTH, threshold=0.0, on_violation=mode)
    typed = sorted(f.as_line() for f in typer.type_delta(violation_delta()).facts)
    bad = ["1990 --capital--> vik", "oda --birthPlace--> 1990"]  # capital_of swapped before the check
    good = ["oda --birthPlace--> vik", "probe --birthPlace--> brel"]
    assert typed == sorted(good if mode == "drop" else good + bad)
    found = sorted((v.fact.as_line(), v.reason, v.dropped, v.sentence) for v in typer.last_violations)
    if mode == "penalize":
        assert found == []
    else:
        assert found == [("1990 --capital--> vik", "domain Place vs DATE", mode == "drop",
                          "Vik is the capital of 1990."),
                         ("oda --birthPlace--> 1990", "range Place vs DATE", mode == "drop",
                          "Oda Lind was born in 1990.")]


def test_on_violation_checks_facts_the_language_model_typed_and_resets_per_call():
    prov = (Provenance("d", 0, extractor="lm", sentence="Oda Lind was born in 1990."),)
    delta = GraphDelta([Entity("oda", "Oda Lind", "PERSON"), Entity("1990", "1990", "DATE")],
                       [Fact("oda", "birthPlace", "1990", 0.9, prov)])
    typer = RelationTyper(BIRTH, on_violation="drop")
    assert typer.type_delta(delta).facts == [] and len(typer.last_violations) == 1
    typer.type_delta(GraphDelta())
    assert typer.last_violations == []


def test_knowledge_graph_reports_violations_in_the_ingest_report():
    class Fake:
        def extract(self, docs, progress=False):
            return violation_delta()

    kg = KnowledgeGraph(extractor=Fake(), resolver=None, schema=BIRTH, on_violation="report")
    kg._typer = RelationTyper(BIRTH, threshold=0.0, on_violation="report")
    report = kg.ingest("Some text.")
    assert report.violations == 2 and report.facts_added == 4
    assert sorted(v.reason for v in report.violation_examples) == ["domain Place vs DATE", "range Place vs DATE"]
    assert KnowledgeGraph(extractor=Fake(), resolver=None).ingest("Some text.").violations == 0


def test_bad_on_violation_is_a_config_error():
    with pytest.raises(ConfigError, match="on_violation must be one of penalize, report, drop; got 'warn'"):
        RelationTyper(PEOPLE, on_violation="warn")
    with pytest.raises(ConfigError, match="got 'warn'"):
        KnowledgeGraph(on_violation="warn")
