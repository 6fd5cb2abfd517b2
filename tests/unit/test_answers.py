"""Answers read off plain prose through the one pipeline (Reasoner.ask): kinds, roles, qualifiers, nesting,
relative dates, lists, comparisons, and the questions the text does not answer.

The corpus is written for these tests (invented people and places); the graph is built by the real extractor
and every answer goes through :meth:`kgllm.Reasoner.ask`, as a user's does.
"""

from __future__ import annotations

import pytest

from kgllm.graph import KnowledgeGraph
from kgllm.reason.reasoner import Reasoner
from kgllm.types import NOT_STATED, Document

DOCS = [
    Document("orvik", "Orvik Mills is a paper maker founded in 1921 by Hanna Dahl and Nils Lund. The company is "
                      "based in Tromsvik. Nils Lund was born in 1885.\n\nIts managing director is Ada Berg, who "
                      "joined the firm from Norcell in 2015."),
    Document("dahl", "Hanna Dahl (born 4 March 1890) was a Norwegian engineer. She grew up in Veldal and studied "
                     "chemistry in Bergen.\n\nDahl married the painter Olav Rein in 1915. Two years later, she "
                     "opened a laboratory in Tromsvik."),
    Document("tromsvik", "The town of Tromsvik lies in the county of Nordmark. About 4,200 people live there. The town "
                         "church, St. Erik, was built in 1742."),
    Document("rein", "Olav Rein's brother, Jon Rein, runs a bookshop in Veldal."),
]

ANSWERED = [
    ("When was Orvik Mills founded?", "1921"),                         # a date qualifier on a participle
    ("Where is Orvik Mills based?", "Tromsvik"),                       # "the company" refers back
    ("Who is the managing director of Orvik Mills?", "Ada Berg"),     # "its" refers back
    ("When was Hanna Dahl born?", "4 March 1890"),                     # a parenthetical
    ("Where did Hanna Dahl grow up?", "Veldal"),                       # a pronoun, a coordinated verb
    ("Who did Hanna Dahl marry?", "Olav Rein"),                        # a surname-only mention
    ("Who is Olav Rein's brother?", "Jon Rein"),                       # a possessive and an apposition
    ("Where does Jon Rein run a bookshop?", "Veldal"),
    ("In which county is Tromsvik?", "Nordmark"),                      # "the county of X": the asked noun
    ("How many people live in Tromsvik?", "About 4,200"),              # a quantity; "there"
    ("When was St. Erik built?", "1742"),
    ("When did Hanna Dahl open a laboratory?", "1917"),                # two years after 1915
    ("Who was born first, Hanna Dahl or Nils Lund?", "Nils Lund"),       # a comparison of two stated dates
]

WITHHELD = [
    "When did Hanna Dahl die?",                 # nothing says it; "born" and "married" are other relations
    "Where was Nils Lund born?",                 # only the year is stated
    "Who founded Norcell?",                     # Norcell is named, its founder is not
    "Who is the mayor of Tromsvik?",
    "When was Tromsvik founded?",               # the church's date is not the town's
    "Who is Hanna Dahl's brother?",             # Olav Rein's brother is someone else's
    "How many people work at Orvik Mills?",     # the town's population is no workforce
]


@pytest.fixture(scope="module")
def reasoner() -> Reasoner:
    kg = KnowledgeGraph()
    kg.ingest(DOCS)
    return Reasoner(kg, llm=None)


@pytest.mark.parametrize(("question", "expected"), ANSWERED)
def test_answers_what_the_text_states_and_cites_the_sentence(reasoner: Reasoner, question: str,
                                                              expected: str) -> None:
    ans = reasoner.ask(question)
    assert (ans.text, ans.supported) == (expected, True), ans.reasons
    assert ans.sources and all(s.sentence for s in ans.sources)
    assert any(expected.lower() in s.sentence.lower() for s in ans.sources) or expected.isdigit()
    assert 0.0 < ans.confidence <= 1.0


@pytest.mark.parametrize("question", WITHHELD)
def test_abstains_when_the_text_does_not_say(reasoner: Reasoner, question: str) -> None:
    ans = reasoner.ask(question)
    assert not ans.supported and ans.text.startswith(NOT_STATED), ans.text
    assert ans.reasons and ans.confidence == 0.0


def test_the_reason_quotes_the_questions_own_word(reasoner: Reasoner) -> None:
    """A withheld answer says what was not stated in the question's words ("baptised"), not a lemma."""
    ans = reasoner.ask("When was Ada Berg baptised?")
    assert not ans.supported
    assert any("'baptised'" in r for r in ans.reasons), ans.reasons


def test_a_list_question_gets_every_answer_with_a_fact_each(reasoner: Reasoner) -> None:
    ans = reasoner.ask("Who founded Orvik Mills?")
    assert (ans.text, ans.supported) == ("Hanna Dahl and Nils Lund", True)
    assert {f.subject for f in ans.facts} == {"hanna dahl", "nils lund"}


def test_a_relative_date_cites_the_sentence_of_its_anchor_too(reasoner: Reasoner) -> None:
    ans = reasoner.ask("When did Hanna Dahl open a laboratory?")
    quoted = {s.sentence for s in ans.sources}
    assert "Dahl married the painter Olav Rein in 1915." in quoted
    assert "Two years later, she opened a laboratory in Tromsvik." in quoted


def test_a_nested_question_is_answered_in_two_cited_steps(reasoner: Reasoner) -> None:
    ans = reasoner.ask("Where is the company that Nils Lund founded based?")
    assert (ans.text, ans.supported) == ("Tromsvik", True)
    assert {f.relation for f in ans.facts} >= {"found", "based_in"}


def test_the_asked_kind_is_a_hard_constraint(reasoner: Reasoner) -> None:
    for question, wrong in [("Where was Hanna Dahl born?", "4 March 1890"),    # a date is no place
                            ("When did Hanna Dahl grow up?", "Veldal")]:       # a place is no date
        ans = reasoner.ask(question)
        assert ans.text != wrong and not ans.supported


def test_a_no_names_what_the_text_says_instead_and_a_yes_is_cited(reasoner: Reasoner) -> None:
    yes = reasoner.ask("Did Hanna Dahl grow up in Veldal?")
    assert (yes.text, yes.supported) == ("Yes", True) and yes.sources
    no = reasoner.ask("Did Hanna Dahl grow up in Bergen?")
    assert no.text == "No: the text says Veldal, not Bergen." and not no.supported


def test_the_answer_is_never_an_entity_the_question_names(reasoner: Reasoner) -> None:
    ans = reasoner.ask("Who married Olav Rein?")
    assert ans.text == "Hanna Dahl"


FAMILY = [Document("holt", "Ingrid Holt is a baker in Lindvik. Her daughter, Liv Holt, is a pilot. Her cousin Erik "
                           "Holt, a teacher in Bergen, founded Holt Bakery in 1990 together with his sister Mia Holt.")]


@pytest.fixture(scope="module")
def family() -> Reasoner:
    kg = KnowledgeGraph()
    kg.ingest(FAMILY)
    return Reasoner(kg, llm=None)


@pytest.mark.parametrize(("question", "expected"), [
    ("What does Ingrid Holt's daughter do?", "pilot"),            # who the daughter is, then what she does
    ("What does Ingrid Holt's cousin Erik do?", "teacher"),       # the question names the cousin
    ("Who founded Holt Bakery together with his sister?", "Erik Holt"),  # one founder, not the list
])
def test_a_possessed_relation_is_resolved_before_it_is_answered(family: Reasoner, question: str,
                                                                 expected: str) -> None:
    ans = family.ask(question)
    assert (ans.text, ans.supported) == (expected, True), ans.reasons


@pytest.mark.parametrize("question", [
    "What does Erik Holt's sister do?",      # the sister is named, her job is not: not her brother's job
    "What does Liv Holt's husband do?",      # no husband is named: not Liv's own job
])
def test_the_possessors_own_facts_do_not_answer_for_someone_else(family: Reasoner, question: str) -> None:
    ans = family.ask(question)
    assert not ans.supported and ans.text.startswith(NOT_STATED), ans.text
