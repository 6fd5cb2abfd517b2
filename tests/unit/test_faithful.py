"""Faithful wording (every name, number and date an answer states is in its evidence) and the model's
constrained choice among the graph's candidates. Sentences are written for these tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from kgllm.errors import ConfigError
from kgllm.graph import KnowledgeGraph
from kgllm.lm import LocalLM
from kgllm.reason.faithful import claims, unsupported_claims
from kgllm.reason.reasoner import Reasoner, ReasonerConfig
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Provenance

ONE_SENTENCE = "Ada Brennholt was born in Velmora."


class Scripted:
    """A Generator replying with one fixed text."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def chat(self, conversations, max_new_tokens: int = 48) -> list[str]:
        return [self.reply for _ in conversations]


@pytest.fixture(scope="module")
def one_sentence_graph() -> KnowledgeGraph:
    kg = KnowledgeGraph()
    kg.ingest(ONE_SENTENCE)
    return kg


def test_invented_claims_are_never_the_answer(one_sentence_graph: KnowledgeGraph) -> None:
    wordy = "Velmora is a city in the Netherlands, Germany. Ada Brennholt was born in Velmora."
    ans = Reasoner(one_sentence_graph, llm=Scripted(wordy)).ask("Where was Ada Brennholt born?")
    assert ans.text == "Velmora" and ans.supported           # composed from the fact, not the model's words
    assert ans.generated == wordy                            # what the model said is kept apart
    assert unsupported_claims(wordy, ans.facts, ans.subgraph) == ["Netherlands", "Germany"]
    assert unsupported_claims(ans.text, ans.facts, ans.subgraph) == []
    assert ans.sources[0].sentence == ONE_SENTENCE


def test_a_faithful_sentence_is_kept(one_sentence_graph: KnowledgeGraph) -> None:
    ans = Reasoner(one_sentence_graph, llm=Scripted(ONE_SENTENCE)).ask("Where was Ada Brennholt born?")
    assert ans.text == ONE_SENTENCE


def test_graph_only_answer_holds_no_invented_claim(one_sentence_graph: KnowledgeGraph) -> None:
    ans = Reasoner(one_sentence_graph, llm=None).ask("Where was Ada Brennholt born?")
    assert (ans.text, ans.supported, ans.generated) == ("Velmora", True, None)
    assert [f.as_line() for f in ans.facts] == ["Ada Brennholt --born_in--> Velmora"]
    assert unsupported_claims(ans.text, ans.facts, ans.subgraph) == []
    assert 0.7 <= ans.confidence <= 1.0   # one sentence states it in so many words


@pytest.mark.parametrize(("text", "expected"), [
    ("Yes. It was founded in 1998 by Ora Lund.", ["1998", "Ora Lund"]),
    ("The answer is Port of Saltby.", ["Port of Saltby"]),
    ("He moved on 3 June 2001 and had 2 sons.", ["3", "June", "2001", "2"]),
    ("none of the facts say", []),
])
def test_claims_are_names_numbers_and_dates(text: str, expected: list[str]) -> None:
    assert claims(text) == expected


def test_numbers_and_underscored_names_are_checked_against_facts_and_sentences() -> None:
    p = Provenance("d", 0, 0, 40, "rules", "Orvik Mills employed 340 people in 2019.")
    facts = [Fact("orvik_mills", "employees", "340", provenance=(p,))]
    assert unsupported_claims("Orvik Mills had 340 staff in 2019.", facts) == []
    assert unsupported_claims("Orvik Mills had 350 staff in 2018.", facts) == ["350", "2018"]


class Chooser(Scripted):
    """A Generator that can also choose: always the option at ``pick``; records the options it saw."""

    def __init__(self, pick: int) -> None:
        super().__init__("unused")
        self.pick, self.seen = pick, []

    def choose(self, conversations, options):
        self.seen.extend(options)
        return [min(self.pick, len(o) - 1) for o in options]


def _two_places() -> MemoryStore:
    store = MemoryStore()
    sent = "Tove Rask was born in Hamar and lives in Gjovik."
    p = Provenance("bio", 0, 0, len(sent), "rules", sent)
    store.upsert(GraphDelta(entities=[Entity("tove rask", "Tove Rask", "PERSON"), Entity("hamar", "Hamar", "GPE"),
                                      Entity("gjovik", "Gjovik", "GPE")],
                            facts=[Fact("tove rask", "born_in", "hamar", provenance=(p,)),
                                   Fact("tove rask", "lives_in", "gjovik", provenance=(p,))]))
    return store


def test_the_model_chooses_among_the_graph_candidates_by_constrained_decoding() -> None:
    sure = Chooser(pick=0)
    assert Reasoner(_two_places(), llm=sure).ask("Where was Tove Rask born?").text == "Hamar"
    assert sure.seen == [["Hamar"]]                          # a confident graph offers only its best candidate
    unsure = ReasonerConfig(llm_choice_below=1.0)            # runners-up offered whenever two paths compete
    llm = Chooser(pick=1)
    ans = Reasoner(_two_places(), llm=llm, config=unsure).ask("Where was Tove Rask born?")
    assert llm.seen == [["Hamar", "Gjovik"]]                 # the top graph candidates, by name
    assert ans.text == ans.generated == "Gjovik" and ans.entities[0] == "gjovik"
    assert [f.relation for f in ans.facts] == ["lives_in"]   # cites the path to what it chose
    first = Reasoner(_two_places(), llm=Chooser(pick=0), config=unsure).ask("Where was Tove Rask born?")
    assert first.text == "Hamar"
    # constrained choice off: the model's free text is read (and checked) instead
    free = Reasoner(_two_places(), llm=Chooser(pick=1), config=ReasonerConfig(constrained=False))
    assert free.ask("Where was Tove Rask born?").text == "Hamar"


def test_low_confidence_answers_are_marked_unsupported_but_keep_their_evidence() -> None:
    sure = Reasoner(_two_places(), llm=None).ask("Where was Tove Rask born?")
    strict = Reasoner(_two_places(), llm=None, config=ReasonerConfig(min_confidence=min(1.0, sure.confidence + 0.01)))
    ans = strict.ask("Where was Tove Rask born?")
    assert not ans.supported and ans.facts and ans.entities[0] == "hamar"
    with pytest.raises(ConfigError):
        ReasonerConfig(min_confidence=1.5)


class _StubEngine:
    """Greedy decoding over code points, with a model that prefers 'G' then anything: only the trie decides."""

    eos_token_id = 0
    tokenizer = SimpleNamespace(apply_chat_template=lambda msgs, add_generation_prompt=True, tokenize=False:
                                msgs[-1]["content"])

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def as_completed(self, prompts, params):
        for i, p in enumerate(params):
            out: list[int] = []
            while len(out) < p.max_tokens:
                logits = torch.zeros(256)
                logits[ord("G")] = 5.0
                logits[ord("z")] = 9.0                          # the model's favourite is never allowed
                for proc in p.logits_processors:
                    logits = proc(out, logits)
                tok = int(logits.argmax())
                out.append(tok)
                if tok == self.eos_token_id:
                    break
            yield i, SimpleNamespace(token_ids=out)


def test_local_lm_choose_decodes_only_the_options() -> None:
    lm = LocalLM()
    lm._engine = _StubEngine()
    convs = [[{"role": "user", "content": "Where?"}], [{"role": "user", "content": "Who?"}]]
    assert lm.choose(convs, [["Hamar", "Gjovik"], ["Ola"]]) == [1, 0]
    with pytest.raises(ConfigError):
        lm.choose(convs, [["Hamar"]])
