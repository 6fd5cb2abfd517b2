"""Extraction scorer arithmetic and evaluate_extraction on small hand-made files."""

from __future__ import annotations

import json

import pytest

from kgllm.errors import InputError
from kgllm.extract.base import ExtractionResult, SkippedDocument
from kgllm.eval.extraction import (delta_triples, evaluate_extraction, normalize_entity, normalize_relation, prf,
                                   score_triples)
from kgllm.types import Entity, Fact, GraphDelta, Provenance, entity_id


class FixedExtractor:
    """Returns hand-chosen triples per document text."""

    name = "fixed"

    def __init__(self, by_text: dict[str, list[tuple[str, str, str]]]) -> None:
        self.by_text = by_text
        self.calls = 0

    def extract(self, documents, progress=False):
        self.calls += 1
        delta = GraphDelta()
        for doc in documents:
            for s, r, o in self.by_text.get(doc.text, []):
                delta.entities += [Entity.from_name(s), Entity.from_name(o)]
                delta.facts.append(Fact(entity_id(s), r, entity_id(o), provenance=(Provenance(doc.id),)))
        return delta


def write_jsonl(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


def test_relation_normalisation() -> None:
    forms = {normalize_relation(r) for r in ("birthPlace", "birth_place", "birth place", "Birth-Place", " birthPlace ")}
    assert forms == {"birth place"}
    assert normalize_relation("isPartOf") == "is part of"
    assert normalize_entity("Claire_Martin ") == normalize_entity("claire  martin") == "claire martin"


def test_score_strict_and_relaxed() -> None:
    gold = [("Lyon", "mayor", "Claire Martin"), ("Lyon", "country", "France"), ("Claire Martin", "party", "XY")]
    pred = [("lyon", "mayor", "claire_martin"),  # strict hit
            ("Lyon", "located_in", "France"),  # relaxed hit only
            ("France", "country", "Lyon"),  # wrong direction: no hit
            ("x", "r", "y")]
    assert score_triples(pred, gold) == {"strict": (1, 4, 3), "relaxed": (2, 4, 3)}


def test_each_triple_counts_once() -> None:
    gold = [("A", "r", "B")]
    # duplicates after normalisation collapse; two relations for one pair match one gold triple
    assert score_triples([("A", "r", "B"), ("a", "R", "b")], gold) == {"strict": (1, 1, 1), "relaxed": (1, 1, 1)}
    assert score_triples([("A", "r", "B"), ("A", "s", "B")], gold) == {"strict": (1, 2, 1), "relaxed": (1, 2, 1)}
    assert score_triples([("A", "s", "B")], gold + [("A", "t", "B")]) == {"strict": (0, 1, 2), "relaxed": (1, 1, 2)}


def test_prf() -> None:
    assert prf(0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert prf(1, 2, 4) == pytest.approx({"precision": 0.5, "recall": 0.25, "f1": 1 / 3})


def test_delta_triples_uses_names_and_documents() -> None:
    delta = GraphDelta(entities=[Entity.from_name("Marie Curie"), Entity.from_name("Warsaw")],
                       facts=[Fact("marie curie", "born_in", "warsaw",
                                   provenance=(Provenance("d1"), Provenance("d2")))])
    assert delta_triples(delta) == {"d1": [("Marie Curie", "born_in", "Warsaw")],
                                    "d2": [("Marie Curie", "born_in", "Warsaw")]}


def test_evaluate_micro_average_and_limit(tmp_path) -> None:
    f = tmp_path / "ex.jsonl"
    write_jsonl(f, [{"id": "same", "text": "T1", "triples": [["A", "rel", "B"], ["A", "other", "C"]]},
                    "",
                    {"id": "same", "text": "T2", "triples": [["D", "rel", "E"]], "relations": ["rel"]},
                    {"id": "z", "text": "T3", "triples": [["F", "rel", "G"]]}])
    ex = FixedExtractor({"T1": [("A", "rel", "B"), ("A", "x", "C"), ("Q", "x", "R")], "T2": [("E", "rel", "D")]})
    res = evaluate_extraction(f, limit=2, extractor=ex)
    assert set(res) == {"n", "skipped", "typed", "strict", "relaxed", "relations", "confusions", "spurious", "missed"}
    assert (res["n"], res["skipped"], res["typed"]) == (2, 0, 1)   # T2 lists its relations: its facts are typed
    # strict: 1 hit of 4 predicted, 3 gold; relaxed: 2 hits (the reversed triple does not count)
    assert res["strict"] == pytest.approx(prf(1, 4, 3))
    assert res["relaxed"] == pytest.approx(prf(2, 4, 3))
    assert ex.calls == 1
    assert evaluate_extraction(f, extractor=ex)["n"] == 3


def test_evaluate_with_rule_extractor(tmp_path) -> None:
    f = tmp_path / "ex.jsonl"
    write_jsonl(f, [{"text": "Warsaw is the capital of Poland.", "triples": [["Warsaw", "capitalOf", "Poland"]]},
                    {"text": "The mayor of Lyon is Claire Martin.", "triples": [["Lyon", "mayor", "Claire Martin"]]}])
    res = evaluate_extraction(f)
    assert {k: res[k] for k in ("n", "skipped", "typed", "strict", "relaxed")} == {"n": 2, "skipped": 0, "typed": 0, "strict": prf(2, 2, 2), "relaxed": prf(2, 2, 2)}


@pytest.mark.parametrize("bad, message", [
    ("{not json", r"bad\.jsonl:2: malformed JSON"),
    (json.dumps({"triples": []}), r"bad\.jsonl:2: .*'text'"),
    (json.dumps({"text": "x", "triples": [["a", "b"]]}), r"bad\.jsonl:2: triple 0"),
    (json.dumps({"text": "x", "triples": [["a", "b", 3]]}), r"bad\.jsonl:2: triple 0"),
    (json.dumps({"text": "x", "triples": "a b c"}), r"bad\.jsonl:2: expected 'triples'"),
    (json.dumps({"text": "x", "triples": [], "relations": "r"}), r"bad\.jsonl:2: .*relations"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad, message) -> None:
    f = tmp_path / "bad.jsonl"
    write_jsonl(f, [{"text": "ok", "triples": []}, bad])
    with pytest.raises(InputError, match=message):
        evaluate_extraction(f, extractor=FixedExtractor({}))


def test_missing_file_and_bad_limit(tmp_path) -> None:
    with pytest.raises(InputError, match=r"not found: .*nope\.jsonl"):
        evaluate_extraction(tmp_path / "nope.jsonl", extractor=FixedExtractor({}))
    with pytest.raises(InputError, match="limit must be a non-negative integer, got -1"):
        evaluate_extraction(tmp_path / "nope.jsonl", limit=-1, extractor=FixedExtractor({}))


def test_empty_file(tmp_path) -> None:
    f = tmp_path / "empty.jsonl"
    f.write_text("\n")
    res = evaluate_extraction(f, extractor=FixedExtractor({}))
    assert {k: res[k] for k in ("n", "skipped", "typed", "strict", "relaxed")} == {"n": 0, "skipped": 0, "typed": 0, "strict": prf(0, 0, 0), "relaxed": prf(0, 0, 0)}


def test_skipped_items_are_counted_and_score_nothing(tmp_path) -> None:
    class SkippingExtractor(FixedExtractor):
        def extract(self, documents, progress=False):
            delta = super().extract(documents, progress)
            skipped = [SkippedDocument(d.id, 0, "ValueError: odd parse") for d in documents if d.text == "T2"]
            return ExtractionResult(entities=delta.entities, facts=delta.facts, skipped=skipped)

    f = tmp_path / "ex.jsonl"
    write_jsonl(f, [{"text": "T1", "triples": [["A", "r", "B"]]}, {"text": "T2", "triples": [["C", "r", "D"]]}])
    res = evaluate_extraction(f, extractor=SkippingExtractor({"T1": [("A", "r", "B")]}))
    assert {k: res[k] for k in ("n", "skipped", "typed", "strict", "relaxed")} == {"n": 2, "skipped": 1, "typed": 0, "strict": prf(1, 1, 2), "relaxed": prf(1, 1, 2)}
