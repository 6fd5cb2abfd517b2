"""``evaluate_kgqa``: the path-embedding baseline measured in the same run, coverage, calibration, faithfulness;
and retrieval over long relation names (``__domain__type__relation``). KBs and questions are written here."""

from __future__ import annotations

import json

import pytest

from kgllm.errors import ConfigError
from kgllm.eval.kgqa import PathEmbeddingBaseline, evaluate_kgqa
from kgllm.loaders import read_kb_tsv
from kgllm.retrieve.question import relation_text
from kgllm.retrieve.subgraph import Retriever, rank_answers
from kgllm.stores.memory import MemoryStore
from kgllm.types import Fact, GraphDelta, entity_id

KB = [
    ("Orla_Venn", "__people__person__place_of_birth", "Dunmere"),
    ("Dunmere", "__location__location__people_born_here", "Orla_Venn"),
    ("Dunmere", "__location__location__people_born_here", "Cass_Tiller"),
    ("Cass_Tiller", "__people__person__place_of_birth", "Dunmere"),
    ("Dunmere", "__location__location__containedby", "Westreach"),
    ("Westreach", "__location__location__people_born_here", "Ivo_Marr"),
    ("Ivo_Marr", "__people__person__profession", "Cartographer"),
    ("Orla_Venn", "__people__person__profession", "Glassblower"),
    ("Quiet_Hours", "__music__recording__tracks", "Quiet_Hours"),
    ("Quiet_Hours", "__music__recording__artist", "Ivo_Marr"),
]
QUESTIONS = [
    ("name the people_born_here of the containedby of Dunmere", ["Ivo_Marr"]),
    ("tell me the profession of the people_born_here of the place_of_birth of Orla_Venn", ["Glassblower",
                                                                                          "Cartographer"]),
    ("Quiet_Hours : its tracks , and their tracks ?", ["Quiet_Hours"]),
    ("which artist made the tracks of Quiet_Hours ?", ["Ivo_Marr"]),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("kgqa")
    (d / "kb.tsv").write_text("".join(f"{s}\t{r}\t{o}\n" for s, r, o in KB))
    (d / "q.jsonl").write_text("".join(json.dumps({"question": q, "answers": a}) + "\n" for q, a in QUESTIONS))
    return d / "kb.tsv", d / "q.jsonl"


def test_long_relation_names_read_as_their_last_segment() -> None:
    assert relation_text("__location__location__people_born_here") == "people born here"
    assert relation_text("__people__person__place_of_birth") == "place of birth"


def test_report_carries_baseline_coverage_calibration_and_faithfulness(files) -> None:
    kb, qs = files
    result = evaluate_kgqa(kb, qs, baseline="path-embedding")
    assert result["n"] == 4 and result["hits@1"] == 1.0
    assert result["baseline"] == "path-embedding"
    # the baseline's figure is its own: the naive ranker run alone on the same KB and questions gives it
    store = MemoryStore()
    store.upsert(read_kb_tsv(kb))
    retriever = Retriever(store)
    ranker = PathEmbeddingBaseline(store, retriever.linker, retriever.embedder, retriever.config.max_hops)
    said = [ranker.answer(q) for q, _ in QUESTIONS]
    golds = [{entity_id(a) for a in answers} for _, answers in QUESTIONS]
    assert result["baseline_hits@1"] == sum(a in g for a, g in zip(said, golds)) / len(QUESTIONS)
    assert result["baseline_hits@1"] < result["hits@1"]      # the naive ranker misses what the graph answers
    assert result["coverage"] == 1.0 and result["supported_precision"] == 1.0
    assert sum(band["n"] for band in result["calibration"].values()) == 4
    assert result["unsupported_content"] == 0.0
    with pytest.raises(ConfigError, match="unknown baseline"):
        evaluate_kgqa(kb, qs, baseline="nearest")


def _store() -> MemoryStore:
    store = MemoryStore()
    store.upsert(GraphDelta(facts=[Fact(s.lower().replace("_", " "), r, o.lower().replace("_", " "))
                                   for s, r, o in KB]))
    return store


def test_a_named_relation_beats_its_inverse_and_a_looping_fact_can_be_walked_twice() -> None:
    retriever = Retriever(_store())
    sub = retriever.retrieve("name the people_born_here of the containedby of Dunmere")
    assert sub.paths[0].relations == ("__location__location__containedby", "__location__location__people_born_here")
    assert all(sub.paths[0].forward)
    loop = retriever.retrieve("Quiet_Hours : its tracks , and their tracks ?")
    assert loop.paths[0].relations == ("__music__recording__tracks",) * 2
    assert rank_answers(loop)[0][0] == "quiet hours"


class Bag:
    """A bag-of-words embedder over a fixed vocabulary (normalised), so the baseline's choice is predictable."""

    vocab = ["people", "born", "here", "place", "birth", "contained", "containedby", "profession", "artist", "tracks"]

    def encode(self, texts):
        import numpy as np

        v = np.array([[float(w in t.replace("_", " ").split()) for w in self.vocab] for t in texts]) + 1e-3
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_path_embedding_baseline_takes_the_closest_relation_path() -> None:
    store = _store()
    ranker = PathEmbeddingBaseline(store, Retriever(store).linker, Bag())
    assert ranker.answer("which artist made Quiet_Hours ?") == "ivo marr"
    assert ranker.answer("who knows nothing at all") is None
    paths = ranker.paths("orla venn")
    assert paths[("__people__person__place_of_birth",)] == ["dunmere"]
    assert max(len(seq) for seq in paths) == 3
