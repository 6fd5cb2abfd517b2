"""Spans written as a training split's golds write them; alignment of golds with spans; demonstrations."""

from __future__ import annotations

import json

import pytest

from kgllm.errors import InputError
from kgllm.extract.candidates import Candidate, passage_candidates
from kgllm.extract.demos import DemoBank
from kgllm.extract.examples import align, iter_items, read_examples
from kgllm.extract.normalise import Normaliser, parse_date, parse_number, similarity, tokenised
from kgllm.resources import get_nlp


@pytest.mark.parametrize("text, parts", [
    ("12 March 1931", (1931, 3, 12)), ("March 12th, 1931", (1931, 3, 12)), ("the 12th of March 1931", (1931, 3, 12)),
    ("1931-03-12", (1931, 3, 12)), ("March 1931", (1931, 3, None)), ("1931", (1931, None, None)),
    ("Sept. 3, 2001", (2001, 9, 3)), ("31 February 1931", (1931, 2, 31)), ("Varna", None), ("12 apples", None),
    ("2931", None), ("1931-13-01", None)])
def test_parse_date(text, parts) -> None:
    assert parse_date(text) == parts


def test_parse_number() -> None:
    assert parse_number("1,250,000") == ("1250000", "")
    assert parse_number("$4,500 a year")[0] == "4500"
    assert parse_number("81.5 kilograms") == ("81.5", "kilograms")
    assert parse_number("Route 9") is None and parse_number("three") is None


def test_dates_take_the_format_of_their_relation() -> None:
    n = Normaliser().fit([("4 May 1902", "1902-05-04", "birthDate"), ("1907", "01 January 1907", "inception"),
                          ("March 3, 1911", "03 March 1911", "inception"), ("1911", "1911", "birthYear")])
    assert n.apply("June 9, 1960", "birthDate") == "1960-06-09"
    assert n.apply("1960", "inception") == "01 January 1960"          # a year alone: the golds fill day and month
    assert n.apply("June 9, 1960", "inception") == "09 June 1960"
    assert n.apply("1960", "birthYear") == "1960"
    # an unseen relation takes the habits of the other relations of its schema
    assert n.apply("2 July 1970", "deathDate", schema=["birthDate"]) == "1970-07-02"
    assert n.apply("2 July 1970", "deathDate") == "2 July 1970"        # nothing learned: as written


def test_numbers_take_units_and_decimals_of_their_relation() -> None:
    n = Normaliser().fit([("1,200", "1200.0", "runwayLength"), ("900 mm", "900.0 (millimetres)", "length"),
                          ("12,500", "12500", "staff")])
    assert n.apply("2,350", "runwayLength") == "2350.0"
    assert n.apply("4,100 millimetres", "length") == "4100.0 (millimetres)"
    assert n.apply("3,400", "staff") == "3400"
    assert n.apply("Ana Lutz", "staff", label="PERSON") == "Ana Lutz"


def test_aliases_and_tokenised_names() -> None:
    n = Normaliser().fit([("UK", "United Kingdom", "country"), ("UK", "United Kingdom", "country"),
                          ("Lund", "Lund", "city"), ("Lund", "Lund", "city"), ("Lund", "Lund, Sweden", "city"),
                          ("Ivo's Song", "Ivo 's Song", "title"), ("Nord: Two", "Nord : Two", "title")])
    assert n.apply("UK", "country") == "United Kingdom"
    assert n.apply("Lund", "city") == "Lund"                      # kept as written more often than not
    assert n.apply("Mira's Way", "title") == "Mira 's Way"
    assert n.apply("Mira's Way", "country") == "Mira's Way"       # no tokenised golds seen for it
    back = Normaliser.from_json(json.loads(json.dumps(n.to_json())))
    assert back.apply("UK", "country") == "United Kingdom" and back.apply("Mira's Way", "title") == "Mira 's Way"
    assert tokenised("Bo's Café: Live/Loud") == "Bo 's Café : Live / Loud"


def test_similarity_aligns_gold_strings_with_spans() -> None:
    assert similarity("Ostby Mills", "Ostby Mills (company)") == 0.95
    assert similarity("E.U.", "European Union") >= 0.8
    assert similarity("4 May 1902", "1902-05-04") == 0.95 and similarity("4 May 1903", "1902-05-04") == 0.0
    assert similarity("1,200", "1200.0") == 0.95 and similarity("1,300", "1200.0") == 0.0
    assert similarity("University of Gottingen", "University of Göttingen") > 0.8
    assert similarity("Varna", "Ghent") < 0.5


def test_align_picks_the_span_each_gold_stands_for() -> None:
    doc = get_nlp()("The Ostby Mills plant in Varna opened on 4 May 1902.")
    cands = passage_candidates(doc)
    found = align(cands, [("Ostby Mills (company)", "location", "Varna"), ("Ostby Mills (company)", "opening", "1902-05-04")])
    assert {g: cands[i].text for g, i in found.items()} == {"Ostby Mills (company)": "Ostby Mills", "Varna": "Varna",
                                                             "1902-05-04": "4 May 1902"}
    assert align([Candidate(0, 1, "Varna", "GPE", 0, "ent")], [("Ghent", "r", "Bergen")]) == {}


def test_jsonl_lines_end_only_at_newlines(tmp_path) -> None:
    f = tmp_path / "x.jsonl"
    rows = [{"id": "ont_4_x_train_1", "text": "Ana Lutz played for \u00c5\u0085lg FK.", "triples": [], "relations": ["r"]},
            {"text": "Bo\u2028Ek", "triples": [["Bo", "r", "Ek"]], "category": "Misc"}]
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert [n for n, _ in iter_items(f)] == [1, 2]
    assert [(e.group, e.relations) for e in read_examples([f])] == [("ont_4", ("r",)), ("Misc", None)]
    f.write_text('{"text": "x", "triples": [], "relations": "r"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"x\.jsonl:1: optional 'relations' must be a list of strings"):
        read_examples([f])


def test_demonstrations_come_from_the_same_ontology_and_never_the_item(tmp_path) -> None:
    f = tmp_path / "demos.jsonl"
    rows = [{"text": "Ana Lutz was born in Porto.", "triples": [["Ana Lutz", "birthPlace", "Porto"]],
             "relations": ["birthPlace", "employer"]},
            {"text": "Bram Okafor was born in Lund.", "triples": [["Bram Okafor", "placeOfBirth", "Lund"]],
             "relations": ["placeOfBirth"]},
            {"text": "Kestrel Dynamics makes drones.", "triples": [["Kestrel Dynamics", "product", "drones"]],
             "relations": ["birthPlace", "employer", "product"]}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    bank = DemoBank.from_file(f)
    assert [d.text for d in bank.select("Cleo Varga was born in Graz.", 1, relations=["placeOfBirth"])] == \
        ["Bram Okafor was born in Lund."]
    assert [d.text for d in bank.select("Cleo Varga was born in Graz.", 1, relations=["employer", "birthPlace"])] == \
        ["Ana Lutz was born in Porto."]
    assert bank.select("Ana Lutz was born in Porto.", 2, relations=["birthPlace", "employer"]) == []
    assert len(bank.select("Cleo Varga was born in Graz.", 3, relations=["unknown"])) == 3
