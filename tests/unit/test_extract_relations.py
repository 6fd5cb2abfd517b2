"""Relation names and argument structure: voice, agent nouns, relative clauses, coordination, appositions.

Sentences written for these tests, with invented names.
"""

from __future__ import annotations

import pytest

from kgllm.extract.relnames import date_relation, normalise, past_participle
from kgllm.extract.rules import RuleExtractor
from kgllm.types import Document


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    return RuleExtractor()


def triples(extractor: RuleExtractor, text: str) -> set[tuple[str, str, str]]:
    result = extractor.extract([Document("t", text)])
    assert result.skipped == []
    return {(f.subject, f.relation, f.object) for f in result.facts}


def test_passive_with_agent_reads_as_active_and_keeps_the_sentence(extractor) -> None:
    text = "Velto Systems was founded by Ria Kemp."
    assert triples(extractor, text) == triples(extractor, "Ria Kemp founded Velto Systems.") == {
        ("ria kemp", "found", "velto systems")}
    (fact,) = extractor.extract([Document("t", text)]).facts
    assert fact.provenance[0].sentence == text  # the sentence's own words stay visible


def test_passive_without_agent_keeps_its_participle(extractor) -> None:
    assert triples(extractor, "Ria Kemp was raised in Bonn.") == {("ria kemp", "raised_in", "bonn")}


@pytest.mark.parametrize("text", ["Ria Kemp, the founder of Velto Systems, lives in Bonn.",
                                  "Velto Systems's founder, Ria Kemp, lives in Bonn.",
                                  "Ria Kemp is the founder of Velto Systems. She lives in Bonn."])
def test_agent_noun_becomes_its_verb(extractor, text) -> None:
    got = triples(extractor, text)
    assert {("ria kemp", "found", "velto systems"), ("ria kemp", "live_in", "bonn")} <= got
    assert not any(r.startswith("founder") for _, r, _ in got)


def test_office_nouns_keep_their_name(extractor) -> None:
    got = triples(extractor, "Jon Adler is now director of the Tarsk Museum.")
    assert got == {("jon adler", "director_of", "tarsk museum")}


def test_relation_name_helpers() -> None:
    assert normalise("owner") == ("own", True) and normalise("maker_of") == ("make", False)
    assert normalise("sister") == ("sister", False)
    assert date_relation("opened", "") == "opened_date" and date_relation("ruled", "until") == "ruled_until"
    assert past_participle("write") == "written" and past_participle("carry") == "carried"


def test_relative_clause_on_a_predicate_noun_attaches_to_the_subject(extractor) -> None:
    got = triples(extractor, "Dunmore Glass is a workshop that was founded in 1990 by Ria Kemp and Jon Adler.")
    assert got == {("dunmore glass", "is_a", "workshop"), ("ria kemp", "found", "dunmore glass"),
                   ("jon adler", "found", "dunmore glass"), ("dunmore glass", "founded_date", "1990")}


def test_whose_clause_attaches_to_its_antecedent(extractor) -> None:
    got = triples(extractor, "The shop belongs to Arvo Media, whose headquarters are in Tartu.")
    assert ("arvo media", "headquarters_in", "tartu") in got
    assert not any(s == "headquarters" for s, _, _ in got)


def test_who_clause_with_a_date(extractor) -> None:
    got = triples(extractor, "Ria Kemp, who joined Velto Systems in 2011, lives in Bonn.")
    assert got == {("ria kemp", "join", "velto systems"), ("ria kemp", "joined_date", "2011"),
                   ("ria kemp", "live_in", "bonn")}


def test_coordinated_subjects_give_one_fact_each(extractor) -> None:
    got = triples(extractor, "Ria Kemp and her brother Tom Kemp founded Velto Systems.")
    assert got == {("ria kemp", "brother", "tom kemp"), ("ria kemp", "found", "velto systems"),
                   ("tom kemp", "found", "velto systems")}


def test_coordinated_objects_give_one_fact_each(extractor) -> None:
    got = triples(extractor, "Velto Systems makes lamps and kettles.")
    assert got == {("velto systems", "make", "lamps"), ("velto systems", "make", "kettles")}


def test_apposition_with_origin_and_place_based_title(extractor) -> None:
    got = triples(extractor, "Lena Brask, a chemist from Lima, joined the Bergen-based group Kalder Media.")
    assert {("lena brask", "is_a", "chemist"), ("lena brask", "be_from", "lima"),
            ("lena brask", "join", "kalder media"), ("kalder media", "based_in", "bergen"),
            ("kalder media", "is_a", "group")} <= got


def test_possessive_apposition_gives_both_facts(extractor) -> None:
    got = triples(extractor, "Onno's brother, Jip Valk, runs a bakery in Dremmel.")
    assert {("onno", "brother", "jip valk"), ("jip valk", "run_bakery_in", "dremmel"),
            ("jip valk", "run", "bakery")} == got


def test_title_before_a_name(extractor) -> None:
    got = triples(extractor, "The striker Tomas Vane joined Orla Rovers.")
    assert got == {("tomas vane", "is_a", "striker"), ("tomas vane", "join", "orla rovers")}


def test_negation_and_possession_are_not_facts_about_the_possessed_noun(extractor) -> None:
    assert triples(extractor, "Ria Kemp never founded Velto Systems.") == set()
    got = triples(extractor, "Ria Kemp wrote a novel. Her novel won the Brin Prize.")
    assert ("ria kemp", "novel_win", "brin prize") in got
    assert not any(s == "novel" for s, _, _ in got)
