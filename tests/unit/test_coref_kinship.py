"""Narrative kinship reading: pronouns by gender, possessives, appositions, lists, run-on sentences."""

from __future__ import annotations

import pytest

from kgllm.extract.kinship import read_kinship
from kgllm.extract.rules import RuleExtractor
from kgllm.resources import get_nlp
from kgllm.types import Document


def facts_of(*sentences: str) -> list[tuple[str, str, str]]:
    nlp = get_nlp()
    return [(s, k, o) for _, s, k, o in read_kinship([nlp(x) for x in sentences]).facts]


@pytest.mark.parametrize("sentences, expected", [
    (["Omar went sailing with his daughter Mira."], [("Omar", "daughter", "Mira")]),
    (["Mira's brother, Tariq, stayed home."], [("Mira", "brother", "Tariq")]),
    (["Ines and her son Kofi baked bread."], [("Ines", "son", "Kofi")]),
    (["Yara, Nils's mother, waved."], [("Nils", "mother", "Yara")]),
    (["Petra is Sven's aunt."], [("Sven", "aunt", "Petra")]),
    (["Jonas is the uncle of Liv."], [("Liv", "uncle", "Jonas")]),
    (["Zora has a son named Ugo."], [("Zora", "son", "Ugo")]),
    (["Tove has two children, Anik, Ekon and Liv."],
     [("Tove", "child", "Anik"), ("Tove", "child", "Ekon"), ("Tove", "child", "Liv")]),
    (["Omar took his sons Kofi and Ugo to the lake."], [("Omar", "son", "Kofi"), ("Omar", "son", "Ugo")]),
    (["Nils joined his brother Sven and mother Yara for lunch."],
     [("Nils", "brother", "Sven"), ("Nils", "mother", "Yara")]),
    (["Liv likes to visit her uncle.", "His name is Jonas."], [("Liv", "uncle", "Jonas")]),
    (["Anik and Ekon are sisters."], [("Anik", "sibling", "Ekon"), ("Ekon", "sibling", "Anik")]),
])
def test_constructions(sentences, expected) -> None:
    assert facts_of(*sentences) == expected


def test_pronouns_follow_gender_and_skip_named_relatives() -> None:
    # "his" is not Ines (she is female) and not Kofi (named as her son): it is Omar
    found = facts_of("Ines went to the fair with her son Kofi while Omar went sailing with his daughter Mira.")
    assert found == [("Ines", "son", "Kofi"), ("Omar", "daughter", "Mira")]
    # an earlier sentence gave Petra's gender, so "his" skips her
    assert facts_of("Petra called her brother Sven.", "Later his wife Zora came.") == [
        ("Petra", "brother", "Sven"), ("Sven", "wife", "Zora")]


def test_run_on_sentences_split_names() -> None:
    found = facts_of("Zora went out with her sister Petra Nils was cycling with his brother Ugo.",
                     "Petra and Nils smiled.")
    assert found == [("Zora", "sister", "Petra"), ("Nils", "brother", "Ugo")]


def test_an_unnamed_relative_in_between() -> None:
    assert facts_of("Yara loves her daughter's son.", "His name is Kofi.") == [
        ("Yara", "daughter", "Yara's daughter"), ("Yara's daughter", "son", "Kofi")]


def test_extractor_kinship_mode_replaces_only_kinship_facts() -> None:
    text = "Omar went sailing with his daughter Mira. Mira's brother, Tariq, lives in Oslo."
    plain = RuleExtractor().extract([Document("d", text)])
    kin = RuleExtractor(kinship=True, genders=True).extract([Document("d", text)])
    lines = sorted(f.as_line() for f in kin.facts)
    assert "omar --daughter--> mira" in lines and "mira --brother--> tariq" in lines
    assert "tariq --gender--> male" in lines and "omar --gender--> male" in lines
    other = sorted(f.as_line() for f in plain.facts if f.relation not in ("daughter", "brother"))
    assert other and all(line in lines for line in other)  # the general facts are kept as they were
    assert not any(f.relation == "gender" for f in plain.facts)


def test_couples_and_who_clauses() -> None:
    assert facts_of("Ugo and Petra were a cheerful couple.", "They had a son, Nils, who had a daughter named Liv.") == [
        ("Ugo", "spouse", "Petra"), ("Petra", "spouse", "Ugo"), ("Ugo", "son", "Nils"), ("Petra", "son", "Nils"),
        ("Nils", "daughter", "Liv")]
