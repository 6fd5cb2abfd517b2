"""`kgllm build --schema ontology.ttl --on-violation …`: facts whose entity types clash with a property's
domain/range are scored lower, listed, or dropped. Real spaCy and MiniLM, on sentences written for the project."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.stores.memory import MemoryStore

runner = CliRunner()

ONTOLOGY = """@prefix : <http://example.org/people#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
:Person a owl:Class .
:Place a owl:Class .
:birthPlace a owl:ObjectProperty ; rdfs:domain :Person ; rdfs:range :Place .
"""
TEXT = "John Miller was born in Norvik Steel AG. Anna Schmidt was born in Berlin.\n"  # a company is no place


@pytest.fixture()
def inputs(tmp_path):
    (tmp_path / "people.ttl").write_text(ONTOLOGY, encoding="utf-8")
    (tmp_path / "people.txt").write_text(TEXT, encoding="utf-8")
    return tmp_path


def build(where, mode: str, status: int = 0):
    graph = where / f"{mode}.json"
    result = runner.invoke(app, ["build", str(where / "people.txt"), "--graph", str(graph), "--schema",
                                 str(where / "people.ttl"), "--on-violation", mode], prog_name="kgllm")
    assert result.exit_code == status, result.output
    if status:
        return result, None
    store = MemoryStore.load(graph)
    names = {e.id: e.name for e in store.entities()}
    return result, sorted(f.as_line(names) for f in store.facts())


def test_build_on_violation_modes(inputs):
    clash = "John Miller --birthPlace--> Norvik Steel AG"
    fine = "Anna Schmidt --birthPlace--> Berlin"
    result, facts = build(inputs, "penalize")
    assert facts == [fine, clash] and "violate" not in result.stderr
    result, facts = build(inputs, "report")
    assert facts == [fine, clash]
    assert "1 facts violate the schema's domain/range (kept):" in result.stderr
    assert ('john miller --birthPlace--> norvik steel ag: range Place vs ORG in "John Miller was born in Norvik Steel '
            'AG."') in result.stderr
    result, facts = build(inputs, "drop")
    assert facts == [fine] and "(dropped)" in result.stderr


def test_build_rejects_an_unknown_mode_before_writing(inputs):
    result, _ = build(inputs, "warn", status=2)
    assert "--on-violation" in result.output and "penalize, report, drop" in result.output
    assert not (inputs / "warn.json").exists()
