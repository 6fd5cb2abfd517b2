"""Reasoner unit tests with a scripted generator (the real LM is exercised in tests/e2e)."""

from __future__ import annotations

import pytest

from kgllm.errors import ConfigError, InputError
from kgllm.reason.reasoner import NOT_SUPPORTED, Reasoner, ReasonerConfig
from kgllm.stores.memory import MemoryStore
from kgllm.types import Fact, GraphDelta, Provenance


class Scripted:
    """A Generator that replies with fixed texts and records its prompts."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list = []

    def chat(self, conversations, max_new_tokens: int = 48) -> list[str]:
        self.prompts.extend(conversations)
        return [self.reply for _ in conversations]


def _store() -> MemoryStore:
    store = MemoryStore()
    facts = [
        ("ada lindqvist", "born_in", "tromsø", "Ada Lindqvist was born in Tromsø."),
        ("tromsø", "located_in", "norway", "Tromsø is located in Norway."),
        ("ada lindqvist", "found", "fjordcell", "In 2015 she founded Fjordcell."),
        ("fjordcell", "headquartered_in", "stavanger", "Fjordcell is headquartered in Stavanger."),
    ]
    delta = GraphDelta()
    for i, (s, r, o, sent) in enumerate(facts):
        delta.facts.append(Fact(s, r, o, provenance=(Provenance(f"doc{i}", 0, 0, len(sent), "rules", sent),)))
    store.upsert(delta)
    return store


def test_graph_only_answer_cites_path_and_sources():
    ans = Reasoner(_store(), llm=None).ask("What is the birthplace of Ada Lindqvist?")
    assert ans.supported
    assert ans.text == "tromsø"
    assert [f.relation for f in ans.facts] == ["born_in"]
    assert ans.sources[0].sentence == "Ada Lindqvist was born in Tromsø."


def test_llm_may_choose_among_top_candidates_and_its_sentence_is_kept():
    store = _store()
    llm = Scripted("Ada Lindqvist was born in Tromsø.")
    ans = Reasoner(store, llm=llm).ask("Where was Ada Lindqvist born?")
    assert ans.text == "Ada Lindqvist was born in Tromsø."
    assert "tromsø" in ans.entities
    # the prompt carries numbered facts
    assert "[1]" in llm.prompts[0][1]["content"]


def test_llm_answer_outside_the_graph_is_replaced_by_graph_answer():
    ans = Reasoner(_store(), llm=Scripted("Paris, obviously.")).ask("Where was Ada Lindqvist born?")
    assert ans.text == ans.entities[0]
    assert "Paris" not in ans.text


def test_unknown_entity_is_reported_unsupported():
    ans = Reasoner(_store(), llm=Scripted("Oslo")).ask("Who founded Atlantis Robotics?")
    assert not ans.supported
    assert ans.text.startswith(NOT_SUPPORTED)
    assert ans.facts == [] and ans.sources == []


def test_empty_question_and_bad_config_raise():
    with pytest.raises(InputError):
        Reasoner(_store(), llm=None).ask("   ")
    with pytest.raises(ConfigError):
        ReasonerConfig(llm_choices=0)
    with pytest.raises(ConfigError):
        Reasoner(object(), llm=None)


def test_relation_direct_and_composed():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[Fact("jason", "daughter", "lisa"), Fact("gabrielle", "husband", "jason")]))
    r = Reasoner(store, llm=None)
    assert r.relation("jason", "lisa").text == "daughter"
    composed = r.relation("gabrielle", "lisa")
    assert composed.text == "husband / daughter" and len(composed.facts) == 2
    assert not r.relation("gabrielle", "nobody").supported
    worded = Reasoner(store, llm=Scripted("Lisa is her daughter.")).relation("gabrielle", "lisa")
    assert worded.text == "daughter"
