"""Retrieval: entity linking, multi-hop beam search, context rendering, KGQA evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgllm.errors import ConfigError, InputError
from kgllm.eval.kgqa import evaluate_kgqa
from kgllm.retrieve.context import build_context
from kgllm.retrieve.link import EntityLinker, LinkedEntity, tokenize
from kgllm.retrieve.subgraph import Retriever, RetrieverConfig, rank_answers, relation_text
from kgllm.stores.memory import MemoryStore
from kgllm.types import Entity, Fact, GraphDelta, Subgraph

# A made-up family: nobody here exists.
KB = [
    ("alice_moreau", "parents", "bernard_moreau"),
    ("alice_moreau", "profession", "painter"),
    ("alice_moreau", "place_of_birth", "paris"),
    ("alice_moreau", "spouse", "david_roche"),
    ("alice_moreau", "gender", "female"),
    ("bernard_moreau", "children", "alice_moreau"),
    ("bernard_moreau", "place_of_birth", "lyon"),
    ("bernard_moreau", "profession", "baker"),
    ("bernard_moreau", "spouse", "claire_dubois"),
    ("bernard_moreau", "gender", "male"),
    ("claire_dubois", "spouse", "bernard_moreau"),
    ("claire_dubois", "nationality", "belgium"),
    ("claire_dubois", "place_of_birth", "brussels"),
    ("claire_dubois", "gender", "female"),
    ("david_roche", "nationality", "canada"),
    ("david_roche", "profession", "pilot"),
    ("david_roche", "gender", "male"),
]


def _delta() -> GraphDelta:
    from kgllm.types import entity_id

    names = {entity_id(x): x for s, _, o in KB for x in (s, o)}
    entities = [Entity(eid, name) for eid, name in names.items()]
    entities[0] = Entity("alice moreau", "alice_moreau", aliases=("Ally Moreau",))
    return GraphDelta(entities=entities, facts=[Fact(entity_id(s), r, entity_id(o)) for s, r, o in KB])


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    st = MemoryStore()
    st.upsert(_delta())
    return st


@pytest.fixture(scope="module")
def retriever(store: MemoryStore) -> Retriever:
    return Retriever(store)


# ------------------------------------------------------------------ linking
def test_tokenize_splits_possessive_and_underscores():
    assert tokenize("Who is Alice_Moreau's dad?") == ["who", "is", "alice", "moreau", "'s", "dad"]


def test_link_exact_alias_fuzzy_and_none(store):
    linker = EntityLinker(store)
    assert linker._index is None  # lazy: nothing built before the first call
    exact = linker.link("where was alice_moreau 's father born ?")
    assert exact[0] == LinkedEntity("alice moreau", "alice moreau", exact[0].score, "exact", (2, 4))
    assert linker.link("who is ally moreau married to")[0].method == "alias"
    fuzzy = linker.link("who is alise moreau ?")
    assert fuzzy and fuzzy[0].entity_id == "alice moreau" and fuzzy[0].method == "fuzzy"
    assert linker.link("what is the meaning of life") == []
    assert linker.link("alice_moreau", limit=0) == []


def test_link_prefers_longest_mention(store):
    found = EntityLinker(store).link("what is claire_dubois 's nationality ?", limit=3)
    assert found[0].entity_id == "claire dubois"


def test_link_embedding_fallback_threshold(store):
    linker = EntityLinker(store, fuzzy_threshold=100, embedding_threshold=0.99)
    assert linker.link("who is alise moreau ?") == []
    with pytest.raises(ConfigError):
        EntityLinker(store, fuzzy_threshold=150)


# ------------------------------------------------------------------ beam search
def test_relation_text():
    assert relation_text("place_of_birth") == "place of birth"
    assert relation_text("birthPlace") == "birth place"


def test_one_hop_stops_after_one_hop(retriever):
    sub = retriever.retrieve("what is alice_moreau 's profession ?")
    assert sub.paths[0].relations == ("profession",)
    assert rank_answers(sub)[0][0] == "painter"
    assert sub.seeds == ["alice moreau"]


def test_two_hop_path_without_hop_count(retriever):
    sub = retriever.retrieve("where was alice_moreau 's father born ?")
    assert sub.paths[0].relations == ("parents", "place_of_birth")
    assert rank_answers(sub)[0][0] == "lyon"
    assert {f.id for f in sub.paths[0].facts} <= sub.fact_ids()
    assert "bernard moreau" in sub.entities and "lyon" in sub.entities


def test_three_hop_path_without_hop_count(retriever):
    sub = retriever.retrieve("what is the nationality of the wife of alice_moreau 's father ?")
    assert sub.paths[0].relations == ("parents", "spouse", "nationality")
    assert rank_answers(sub)[0][0] == "belgium"
    scores = [p.score for p in sub.paths]
    assert scores == sorted(scores, reverse=True)


def test_top_path_end_is_top_answer(retriever):
    sub = retriever.retrieve("what is the job of alice_moreau 's husband ?")
    assert rank_answers(sub)[0][0] == sub.paths[0].end == "pilot"


def test_no_entity_gives_empty_subgraph(retriever):
    sub = retriever.retrieve("what is the meaning of life ?")
    assert sub.paths == [] and sub.facts == [] and rank_answers(sub) == []


class _NoNeighbours(MemoryStore):
    def neighbors(self, entity_id, direction="both"):
        return []


def test_fallback_to_neighbourhood_when_beam_finds_nothing():
    st = _NoNeighbours()
    st.upsert(_delta())
    sub = Retriever(st, config=RetrieverConfig(fallback_hops=1)).retrieve("where was alice_moreau 's father born ?")
    assert sub.paths == []
    assert sub.seeds == ["alice moreau"]
    assert {f.subject for f in sub.facts} | {f.object for f in sub.facts} >= {"alice moreau", "bernard moreau"}
    assert all("alice moreau" in (f.subject, f.object) for f in sub.facts)


@pytest.mark.parametrize("field, value", [("beam_width", 0), ("max_hops", 0), ("fallback_hops", -1),
                                          ("hop_cost", float("nan")), ("max_facts", 1.5)])
def test_config_is_validated(field, value):
    with pytest.raises(ConfigError):
        RetrieverConfig(**{field: value})


# ------------------------------------------------------------------ context
def test_context_numbers_facts_best_paths_first_and_respects_budget(retriever):
    sub = retriever.retrieve("where was alice_moreau 's father born ?")
    text, facts = build_context(sub, max_tokens=10_000)
    lines = text.splitlines()
    assert lines[0] == "[1] alice_moreau --parents--> bernard_moreau"
    assert lines[1] == "[2] bernard_moreau --place_of_birth--> lyon"
    assert len(lines) == len(facts) == len({f.id for f in sub.facts} | {f.id for p in sub.paths for f in p.facts})
    short, few = build_context(sub, max_tokens=16)
    assert short.splitlines() == lines[:len(few)] and 1 <= len(few) < len(facts)
    none, nothing = build_context(sub, max_tokens=0)
    assert none == "" and nothing == []
    one, _ = build_context(sub, max_tokens=10_000, count_tokens=lambda s: 10_001)
    assert one == ""
    with pytest.raises(ConfigError):
        build_context(Subgraph(), max_tokens=-1)


# ------------------------------------------------------------------ evaluation
def _write_kgqa(tmp_path: Path, questions: list[dict]) -> tuple[Path, Path]:
    kb = tmp_path / "kb.tsv"
    kb.write_text("".join(f"{s}\t{r}\t{o}\n" for s, r, o in KB), encoding="utf-8")
    qs = tmp_path / "dev.jsonl"
    qs.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return kb, qs


def test_evaluate_kgqa_on_tiny_files(tmp_path):
    questions = [
        {"question": "where was alice_moreau 's father born ?", "answers": ["lyon"],
         "path": ["alice_moreau", "parents", "bernard_moreau", "place_of_birth", "lyon"]},
        {"question": "what is the nationality of alice_moreau 's husband ?", "answers": ["canada"],
         "path": ["alice_moreau", "spouse", "david_roche", "nationality", "canada"]},
        {"question": "what is alice_moreau 's profession ?", "answers": ["Pilot"]},  # wrong on purpose
    ]
    kb, qs = _write_kgqa(tmp_path, questions)
    result = evaluate_kgqa(kb, qs)
    assert result == {"n": 3, "hits@1": pytest.approx(2 / 3), "path_recall": 1.0}
    assert evaluate_kgqa(kb, qs, limit=1, progress=True)["n"] == 1

    class Echo:      # an LM that repeats the first fact's object: one batched call for all questions
        calls = 0

        def chat(self, conversations, max_new_tokens=48):
            Echo.calls += 1
            return [c[1]["content"].split("--> ")[1].split("\n")[0] for c in conversations]

    with_lm = evaluate_kgqa(kb, qs, llm=Echo())
    assert Echo.calls == 1 and with_lm["hits@1"] == result["hits@1"]
    assert 0.0 <= with_lm["answer_hits@1"] <= 1.0


@pytest.mark.parametrize("line, message", [
    ('{"answers": ["x"]}', "question"),
    ('{"question": "q", "answers": []}', "answers"),
    ('{"question": "q", "answers": ["x"], "path": ["a", "r"]}', "path"),
    ("not json", "malformed JSON"),
])
def test_evaluate_kgqa_names_bad_lines(tmp_path, line, message):
    kb, qs = _write_kgqa(tmp_path, [])
    qs.write_text('{"question": "q", "answers": ["x"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"dev.jsonl:2: .*{message}"):
        evaluate_kgqa(kb, qs)


DATA = Path(__file__).resolve().parents[2].parent / "shared/data"


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "kgqa/PQ-2H-dev.jsonl").exists(), reason="shared evaluation data not present")
def test_pathquestion_2hop_dev_sample():
    result = evaluate_kgqa(DATA / "kgqa/PQ-2H-kb.tsv", DATA / "kgqa/PQ-2H-dev.jsonl", limit=200)
    assert result["n"] == 200
    assert result["hits@1"] >= 0.85
    assert result["path_recall"] >= 0.9
