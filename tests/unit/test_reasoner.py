"""Reasoner unit tests with a scripted generator (the real LM is exercised in tests/e2e)."""

from __future__ import annotations

import pytest

from kgllm.errors import ConfigError, InputError
from kgllm.reason.reasoner import NOT_SUPPORTED, Reasoner, ReasonerConfig
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance


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
    delta = GraphDelta(entities=[Entity.from_name(n) for n in ("Ada Lindqvist", "Tromsø", "Norway", "Fjordcell",
                                                               "Stavanger")])
    for i, (s, r, o, sent) in enumerate(facts):
        delta.facts.append(Fact(s, r, o, provenance=(Provenance(f"doc{i}", 0, 0, len(sent), "rules", sent),)))
    store.upsert(delta)
    return store


def test_graph_only_answer_cites_path_and_sources():
    ans = Reasoner(_store(), llm=None).ask("What is the birthplace of Ada Lindqvist?")
    assert ans.supported and ans.generated is None
    assert ans.text == "Tromsø"                                # the name as written, not the id
    assert [f.relation for f in ans.facts] == ["born_in"]
    assert ans.cite().splitlines() == [
        "Tromsø",
        "  [1] Ada Lindqvist --born_in--> Tromsø",
        '      source doc0:0-33 "Ada Lindqvist was born in Tromsø."',
    ]


def test_llm_may_choose_among_top_candidates_and_its_sentence_is_kept():
    store = _store()
    llm = Scripted("Ada Lindqvist was born in Tromsø.")
    ans = Reasoner(store, llm=llm).ask("Where was Ada Lindqvist born?")
    assert ans.text == ans.generated == "Ada Lindqvist was born in Tromsø."
    assert ans.entities[0] == "tromsø"
    # the prompt carries numbered facts
    assert "[1]" in llm.prompts[0][1]["content"]


def test_llm_answer_outside_the_graph_is_replaced_by_graph_answer():
    ans = Reasoner(_store(), llm=Scripted("Paris, obviously.")).ask("Where was Ada Lindqvist born?")
    assert ans.text == "Tromsø" and ans.entities[0] == "tromsø"
    assert ans.generated == "Paris, obviously."               # what the model said is kept, apart


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
    store.upsert(GraphDelta(facts=[Fact("jason", "daughter", "lisa"), Fact("gabrielle", "husband", "jason"),
                                   Fact("gabrielle", "works_with", "tom"), Fact("tom", "friend", "ann")]))
    r = Reasoner(store, llm=None)
    assert r.relation("jason", "lisa").text == "daughter"
    composed = r.relation("gabrielle", "lisa")       # a husband's daughter: family identities, no LM
    assert composed.text == "daughter" and len(composed.facts) == 2
    assert r.relation("lisa", "jason").text == "father"            # walked backwards: the inverse
    assert r.relation("gabrielle", "ann").text == "works_with / friend"
    assert not r.relation("gabrielle", "nobody").supported
    worded = Reasoner(store, llm=Scripted("Ann is her colleague's friend.")).relation("gabrielle", "ann")
    assert worded.text == "colleague's"


def test_kinship_composition_prefers_family_paths_and_needs_the_gender():
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[
        Fact("joel", "brother", "richard"), Fact("daniel", "son", "richard"), Fact("jamie", "husband", "daniel"),
        Fact("jamie", "brother", "gregory"), Fact("joel", "fish_with", "gregory"),
        Fact("laura", "son", "stephen"), Fact("stephen", "daughter", "annie"), Fact("annie", "go_with", "kim")]))
    r = Reasoner(store, llm=None)
    uncle = r.relation("joel", "gregory")              # the family path wins over the shorter fish_with
    assert uncle.text == "uncle" and [f.relation for f in uncle.facts] == ["brother", "son", "husband", "brother"]
    assert r.relation("laura", "annie").text == "granddaughter"
    # the graph never names Laura's gender: no guess between grandfather and grandmother
    assert r.relation("annie", "laura").text == "inverse daughter / inverse son"


class Streaming(Scripted):
    """A StreamingGenerator that yields its reply word by word."""

    def stream_chat(self, conversation, max_new_tokens: int = 48):
        self.prompts.append(conversation)
        for i, word in enumerate(self.reply.split()):
            yield word if i == 0 else " " + word


def test_on_token_gets_only_checked_text_never_a_line_withdrawn_later():
    pieces: list[str] = []
    llm = Streaming("Ada Lindqvist was born in Tromsø.")
    ans = Reasoner(_store(), llm=llm).ask("Where was Ada Lindqvist born?", on_token=pieces.append)
    assert pieces == [ans.text] == ["Ada Lindqvist was born in Tromsø."]
    # an invented claim ("Sweden") is never shown: the answer composed from the facts is
    shown: list[str] = []
    ans = Reasoner(_store(), llm=Streaming("Tromsø, a city in Sweden.")).ask("Where was Ada Lindqvist born?",
                                                                            on_token=shown.append)
    assert shown == [ans.text] == ["Tromsø"] and ans.generated == "Tromsø, a city in Sweden."
    # the graph alone decides: its answer is handed over once
    none: list[str] = []
    ans = Reasoner(_store(), llm=Streaming("x")).ask("Who founded Atlantis Robotics?", on_token=none.append)
    assert none == [ans.text] and not ans.supported


def test_relations_batch_every_prompt_into_one_llm_call():
    from kgllm.reason.relations import finish_relation_plans

    store = MemoryStore()
    store.upsert(GraphDelta(facts=[Fact("jason", "mentor", "lisa"), Fact("gabrielle", "boss", "jason"),
                                   Fact("gabrielle", "coach", "tom"), Fact("jason", "daughter", "lisa")]))

    class Counting(Scripted):
        calls = 0

        def chat(self, conversations, max_new_tokens: int = 48):
            Counting.calls += 1
            return super().chat(conversations, max_new_tokens)

    llm = Counting("She is the stepdaughter.")
    answers = Reasoner(store, llm=llm).relations([("gabrielle", "lisa", None), ("jason", "lisa", None),
                                                  ("tom", "lisa", None), ("gabrielle", "nobody", None)])
    assert [a.text for a in answers[:2]] == ["stepdaughter", "daughter"]
    assert answers[2].text == "stepdaughter" and not answers[3].supported
    assert Counting.calls == 1 and len(llm.prompts) == 2      # two composed paths, one batched call
    plan = Reasoner(store, llm=llm).relation_plan("gabrielle", "lisa")
    with pytest.raises(ConfigError):
        finish_relation_plans([plan], None)


def test_resolve_llm_choices(tmp_path):
    from kgllm.lm import LocalLM, OpenAIClient, resolve_llm

    assert resolve_llm(None) is None
    scripted = Scripted("x")
    assert resolve_llm(scripted) is scripted
    assert isinstance(resolve_llm("auto"), LocalLM)
    client = resolve_llm("https://example.org/v1", model="m", api_key="k")
    assert isinstance(client, OpenAIClient) and client.model == "m" and client.base_url == "https://example.org/v1"
    (tmp_path / "model").mkdir()
    assert resolve_llm(tmp_path / "model").model_name == "model"
    with pytest.raises(ConfigError):
        resolve_llm("gpt-4")
    with pytest.raises(ConfigError):
        Reasoner(_store(), llm=42)


def test_llm_answer_in_quotes_still_names_the_candidate():
    ans = Reasoner(_store(), llm=Scripted('The answer is "Tromsø".')).ask("Where was Ada Lindqvist born?")
    assert ans.text == 'The answer is "Tromsø".' and ans.entities[0] == "tromsø"


def test_reasoner_built_before_an_ingest_links_the_entities_it_added():
    from kgllm.graph import KnowledgeGraph

    kg = KnowledgeGraph()
    kg.ingest(["Maren Holt was born in Bergen."])
    reasoner = Reasoner(kg, llm=None)
    assert reasoner.ask("Where was Maren Holt born?").text == "Bergen"
    kg.ingest(["Tobias Rask was born in Aarhus."])
    ans = reasoner.ask("Where was Tobias Rask born?")
    assert ans.supported and ans.text == "Aarhus"
    assert ans.cite().splitlines()[1] == "  [1] Tobias Rask --born_in--> Aarhus"


def test_ask_many_takes_subgraphs_already_retrieved():
    store = _store()
    reasoner = Reasoner(store, llm=None)
    sub = reasoner.retriever.retrieve("Where was Ada Lindqvist born?")
    assert [a.text for a in reasoner.ask_many(["Where was Ada Lindqvist born?"], subgraphs=[sub])] == ["Tromsø"]
    with pytest.raises(InputError, match="2 subgraphs for 1 questions"):
        reasoner.ask_many(["Where was Ada Lindqvist born?"], subgraphs=[sub, sub])
