"""Dates, durations, quantities and relative dates: typed values with relations of their own.

Sentences written for these tests, with invented names.
"""

from __future__ import annotations

import pytest

from kgllm.extract.rules import RuleExtractor
from kgllm.types import Document


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    return RuleExtractor()


def extract(extractor: RuleExtractor, text: str):
    result = extractor.extract([Document("t", text)])
    assert result.skipped == []
    return result


def triples(extractor: RuleExtractor, text: str) -> set[tuple[str, str, str]]:
    return {(f.subject, f.relation, f.object) for f in extract(extractor, text).facts}


def types(result) -> dict[str, str]:
    return {e.id: e.type for e in result.entities}


def test_bracketed_birth_date_nationality_and_occupation(extractor) -> None:
    got = triples(extractor, "Arne Sol (born 4 March 1960) is a Slovenian structural engineer.")
    assert got == {("arne sol", "born_date", "4 march 1960"), ("arne sol", "is_a", "structural engineer"),
                   ("arne sol", "nationality", "slovenian")}


def test_life_dates_in_brackets(extractor) -> None:
    got = triples(extractor, "Tora Vik (1901-1977) was a Danish painter.")
    assert {("tora vik", "born_date", "1901"), ("tora vik", "died_date", "1977"),
            ("tora vik", "is_a", "painter")} <= got


def test_dates_and_places_never_share_a_relation(extractor) -> None:
    result = extract(extractor, "Arne Sol was born in Brno in 1960.")
    got = {(f.subject, f.relation, f.object) for f in result.facts}
    assert got == {("arne sol", "born_in", "brno"), ("arne sol", "born_date", "1960")}
    assert types(result)["1960"] == "DATE"


def test_date_of_a_creation_goes_to_what_was_created(extractor) -> None:
    got = triples(extractor, "Ria Kemp studied in Bonn. In 1990 she founded Velto Systems.")
    assert {("ria kemp", "found", "velto systems"), ("velto systems", "founded_date", "1990")} <= got
    assert not any(o == "1990" and s == "ria kemp" for s, _, o in got)  # not "she found in 1990"


def test_active_and_passive_give_the_same_date_relation(extractor) -> None:
    active = triples(extractor, "In 1990 Ria Kemp founded Velto Systems.")
    passive = triples(extractor, "Velto Systems was founded by Ria Kemp in 1990.")
    assert active == passive == {("ria kemp", "found", "velto systems"), ("velto systems", "founded_date", "1990")}


def test_date_of_other_verbs_stays_with_the_subject(extractor) -> None:
    got = triples(extractor, "Ria Kemp joined Velto Systems in 2011.")
    assert got == {("ria kemp", "join", "velto systems"), ("ria kemp", "joined_date", "2011")}


def test_relative_date_resolves_against_a_year_of_its_paragraph_and_cites_both(extractor) -> None:
    text = "Ria Kemp joined Velto Systems in 1990. Four years later she left the company."
    result = extract(extractor, text)
    fact = next(f for f in result.facts if f.object == "1994")
    assert (fact.subject, fact.relation) == ("ria kemp", "left_date")
    assert [p.chunk for p in fact.provenance] == [0, 1]
    assert {p.sentence for p in fact.provenance} == {"Ria Kemp joined Velto Systems in 1990.",
                                                     "Four years later she left the company."}


@pytest.mark.parametrize("phrase, year", [("Two years earlier", "1988"), ("The following year", "1991"),
                                          ("A decade later", "2000"), ("Later that year", "1990")])
def test_relative_date_phrases(extractor, phrase, year) -> None:
    got = triples(extractor, f"Velto Systems was founded in 1990. {phrase} it opened in Lyon.")
    assert ("velto systems", "opened_date", year) in got


def test_relative_date_without_an_anchor_in_its_paragraph_gives_no_date(extractor) -> None:
    got = triples(extractor, "Ria Kemp joined Velto Systems in 1990.\n\nFour years later she left Bonn.")
    assert ("ria kemp", "leave", "bonn") in got
    assert not any(r.endswith("_date") and s == "ria kemp" and r != "joined_date" for s, r, _ in got)
    assert not any("later" in o or o == "1994" for _, _, o in got)


def test_duration_is_a_quantity_not_a_date(extractor) -> None:
    result = extract(extractor, "Ria Kemp worked for nine years at Velto Systems.")
    got = {(f.subject, f.relation, f.object) for f in result.facts}
    assert got == {("ria kemp", "work_duration", "nine years"), ("ria kemp", "work_at", "velto systems")}
    assert types(result)["nine years"] == "QUANTITY"


def test_length_with_a_unit(extractor) -> None:
    result = extract(extractor, "The Brisk Line is a railway in Ayr. The railway is 31 kilometres long.")
    assert ("brisk line", "length", "31 kilometres") in {(f.subject, f.relation, f.object) for f in result.facts}
    assert types(result)["31 kilometres"] == "QUANTITY"


def test_money_and_counts(extractor) -> None:
    result = extract(extractor, "Velto Systems was sold for 12 million dollars. About 350 families live in Lisvik.")
    got = {(f.subject, f.relation, f.object) for f in result.facts}
    assert {("velto systems", "sold_for", "12 million dollars"),
            ("lisvik", "family_live_in", "about 350 families")} <= got
    assert types(result)["12 million dollars"] == "MONEY"
    assert types(result)["about 350 families"] == "CARDINAL"


def test_a_value_is_never_a_subject(extractor) -> None:
    got = triples(extractor, "About 350 families live there. Twelve boats left the harbour.")
    assert not {s for s, _, _ in got} & {"about 350 families", "twelve boats"}
