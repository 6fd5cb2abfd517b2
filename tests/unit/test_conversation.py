"""Conversations: follow-ups resolved against the entities of earlier turns, answered standalone (issue 20)."""

from __future__ import annotations

import pytest

from kgllm import Conversation, KnowledgeGraph, Reasoner
from kgllm.conversation import normalise_question
from kgllm.errors import InputError
from kgllm.types import Document

TEXT = ("Velmora Bikes is a bicycle company based in Bergen. Ada Lindqvist founded Velmora Bikes in 1990. "
        "She was born in Tromsø. Her husband is Jonas Berg. He works as a carpenter in Oslo. "
        "Orrin Verlag is a publisher based in Graz. Velmora Bikes bought Kestrel Motors in 2019 for 30 million "
        "euros. Kestrel Motors is a company based in Gothenburg.")


@pytest.fixture(scope="module")
def reasoner() -> Reasoner:
    kg = KnowledgeGraph()
    kg.ingest([Document("velmora", TEXT)])
    return Reasoner(kg, llm=None)


def test_pronouns_follow_the_answer_and_the_gender(reasoner: Reasoner) -> None:
    conv = Conversation(reasoner)
    first = conv.ask("Who founded Velmora Bikes?")
    assert first.text == "Ada Lindqvist" and first.resolved_question == "Who founded Velmora Bikes?"
    born = conv.ask("Where was she born?")
    assert born.resolved_question == "Where was Ada Lindqvist born?"
    assert born.question == "Where was she born?" and born.text == "Tromsø" and born.sources
    assert conv.ask("Who is her husband?").resolved_question == "Who is Ada Lindqvist's husband?"
    # "he" is the husband the answer gave (a male person), not Ada Lindqvist
    assert conv.ask("Where does he work?").resolved_question.startswith("Where does Jonas Berg work")
    assert len(conv.turns) == 4 and conv.turns[1].resolved == "Where was Ada Lindqvist born?"


def test_it_and_definite_references_are_the_non_person(reasoner: Reasoner) -> None:
    conv = Conversation(reasoner)
    conv.ask("Who founded Velmora Bikes?")
    assert conv.ask("When did she found it?").resolved_question == "When did Ada Lindqvist found Velmora Bikes?"
    assert conv.ask("Where is the company based?").resolved_question == "Where is Velmora Bikes based?"
    based = conv.ask("Where is the company based?")
    assert based.text == "Bergen"
    assert conv.ask("How many people live in the city?").resolved_question == "How many people live in Bergen?"
    conv.reset()
    conv.ask("Who founded Velmora Bikes?")
    assert conv.ask("Where is the city?").unresolved == ("the city",)  # no place in focus: said, not guessed


def test_ellipsis_reuses_the_previous_question(reasoner: Reasoner) -> None:
    conv = Conversation(reasoner)
    conv.ask("Where is Velmora Bikes based?")
    assert conv.ask("And Orrin Verlag?").resolved_question == "Where is Orrin Verlag based?"
    conv.reset()
    conv.ask("Who founded Velmora Bikes?")
    assert conv.ask("In which year?").resolved_question == "In which year was Velmora Bikes founded?"
    conv.reset()
    conv.ask("Which company did Velmora Bikes buy in 2019?")
    assert conv.ask("For how much?").resolved_question == "For how much did Velmora Bikes buy Kestrel Motors in 2019?"
    conv.reset()
    conv.ask("Where was Ada Lindqvist born?")
    assert conv.ask("What about her husband?").resolved_question == "Where was Ada Lindqvist's husband born?"


def test_unresolved_reference_is_asked_as_written_and_reported(reasoner: Reasoner) -> None:
    conv = Conversation(reasoner)
    ans = conv.ask("Where was he born?")
    assert ans.resolved_question == "Where was he born?" and ans.unresolved == ("he",) and not ans.supported
    conv.ask("Where is Velmora Bikes based?")
    assert conv.ask("Who is her sister?").unresolved == ("her",)  # no woman in focus


def test_to_dict_round_trip_continues_the_conversation(reasoner: Reasoner) -> None:
    conv = Conversation(reasoner)
    conv.ask("Who founded Velmora Bikes?")
    data = conv.to_dict()
    assert data["turns"][0]["answer"]["text"] == "Ada Lindqvist" and data["turns"][0]["answer"]["sources"]
    again = Conversation.from_dict(data, reasoner)
    assert [t.resolved for t in again.turns] == ["Who founded Velmora Bikes?"]
    assert again.ask("Where was she born?").resolved_question == "Where was Ada Lindqvist born?"
    kept = again.to_dict()["turns"][0]
    assert {k: kept[k] for k in ("question", "resolved_question", "answer")} == \
        {k: data["turns"][0][k] for k in ("question", "resolved_question", "answer")}


def test_empty_turn_is_refused(reasoner: Reasoner) -> None:
    with pytest.raises(InputError):
        Conversation(reasoner).ask("   ")


def test_normalised_comparison() -> None:
    assert normalise_question("Where are Halvard's headquarters?") == normalise_question("where are halvard headquarters")
    assert normalise_question("Who is X?") != normalise_question("Who is Y?")
    assert normalise_question("When was Edith Trask born?", [["Edith Penhallow", "Edith Trask"]]) == \
        normalise_question("When was Edith Penhallow born?", [["Edith Penhallow", "Edith Trask"]])
