"""``Fact.as_line()`` shows entity names as written, the way ``Answer.cite()`` does (issue 22, item 12)."""

from __future__ import annotations

from kgllm.reason.reasoner import Reasoner
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance


def _store() -> MemoryStore:
    store = MemoryStore()
    sentences = [("ada lindqvist", "born_in", "tromsø", "Ada Lindqvist was born in Tromsø."),
                 ("tromsø", "located_in", "norway", "Tromsø is located in Norway.")]
    delta = GraphDelta(entities=[Entity.from_name(n) for n in ("Ada Lindqvist", "Tromsø", "Norway")])
    for i, (s, r, o, text) in enumerate(sentences):
        delta.facts.append(Fact(s, r, o, provenance=(Provenance(f"doc{i}", 0, 0, len(text), "rules", text),)))
    store.upsert(delta)
    return store


def test_an_answers_facts_print_the_names_its_citation_prints():
    answer = Reasoner(_store(), llm=None).ask("In which country was Ada Lindqvist born?")
    assert answer.facts, answer.text
    cited = [line.split("] ", 1)[1] for line in answer.cite().splitlines() if line.lstrip().startswith("[")]
    assert [f.as_line() for f in answer.facts] == cited
    assert answer.facts[0].as_line() == "Ada Lindqvist --born_in--> Tromsø"


def test_names_are_for_display_only():
    plain = Fact("ada lindqvist", "born_in", "tromsø")
    named = plain.named({"ada lindqvist": "Ada Lindqvist", "tromsø": "Tromsø"})
    assert named.as_line() == "Ada Lindqvist --born_in--> Tromsø"
    assert plain.as_line() == "ada lindqvist --born_in--> tromsø"        # a fact without names shows its ids
    assert named == plain and hash(named) == hash(plain) and named.id == plain.id
    assert named.as_line({"tromsø": "TROMSØ"}) == "Ada Lindqvist --born_in--> TROMSØ"   # an explicit map wins
