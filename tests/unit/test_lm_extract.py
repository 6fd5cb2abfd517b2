"""The LM extractor's constrained decoding, on the real engine over a fake model that emits random logits.

Whatever the "model" prefers, the grammar must hold: valid JSON, relations from the schema, subject and object
copied from the sentence. Failures of the model are reported, never raised.
"""

from __future__ import annotations

import json

import pytest
import torch

from kgllm.errors import ConfigError
from kgllm.engine.sampler import sample
from kgllm.extract.constrained import ChoiceGrammar, TripleGrammar, parse_triples
from kgllm.extract.demos import DemoBank
from kgllm.extract.lm import HybridExtractor, LMExtractor, candidate_spans, make_extractor
from kgllm.resources import get_nlp
from kgllm.schema import Schema
from kgllm.types import Document, Fact, GraphDelta, Provenance
from tests.unit.fake_engine import FakeRunner, FakeTokenizer, make_engine

VOCAB = 128   # ASCII: the fake tokenizer's tokens are code points


class RandomRunner(FakeRunner):
    """A "model" whose next-token logits are random (seeded): only the grammar keeps its output in shape."""

    def __init__(self, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gen = torch.Generator().manual_seed(seed)

    def run(self, batch) -> list[int]:
        if self.fail_steps:
            self.fail_steps -= 1
            raise RuntimeError("injected model failure")
        sampled = [s for s, f in zip(batch.seqs, batch.sample) if f]
        self.steps += 1
        logits = torch.randn(len(sampled), VOCAB, generator=self.gen) * 4
        return sample(logits, sampled)


class FakeLM:
    def __init__(self, seed: int = 0) -> None:
        self.engine = make_engine(num_blocks=512, block_size=16, max_num_seqs=8, max_batch_tokens=256,
                                  max_model_len=4096)
        self.engine.runner = RandomRunner(seed, max_model_len=4096)


def _decode(grammar: TripleGrammar, seed: int, steps: int = 400) -> str:
    gen = torch.Generator().manual_seed(seed)
    proc, out = grammar.processor(), []
    for _ in range(steps):
        tok = int(proc(out, torch.randn(VOCAB, generator=gen)).argmax())
        if tok == 0:
            break
        out.append(tok)
    return "".join(map(chr, out))


@pytest.mark.parametrize("seed", range(12))
def test_grammar_output_is_always_valid_json_over_allowed_strings(seed: int) -> None:
    spans, relations = ["Ada Lind", "Ada", "Lund", "1990"], ["birthPlace", "birthYear", "bird"]
    grammar = TripleGrammar(FakeTokenizer(), spans, relations, max_triples=3)
    text = _decode(grammar, seed)
    data = json.loads(text)                      # complete, valid JSON every time
    assert isinstance(data, list) and len(data) <= 3
    for item in data:
        assert set(item) == {"s", "r", "o"}
        assert item["s"] in spans and item["o"] in spans and item["r"] in relations
    assert parse_triples(text) == [(d["s"], d["r"], d["o"]) for d in data]


def test_grammar_without_candidates_can_only_say_nothing() -> None:
    grammar = TripleGrammar(FakeTokenizer(), ['a "quoted" name'], ["rel"])
    assert grammar.empty and _decode(grammar, 0) == "[]"


def test_parse_triples_is_lenient() -> None:
    assert parse_triples('[{"s": "A", "r": "b", "o": "C"}, {"s": "D", "r": "e"') == [("A", "b", "C")]
    assert parse_triples('Facts: [["A", "b", "C"], 3, {"s": ""}]') == [("A", "b", "C")]
    assert parse_triples("") == [] and parse_triples("[not json") == []


def test_choice_grammar_only_allows_options() -> None:
    grammar = ChoiceGrammar(FakeTokenizer(), ["none", "nationality", "name"])
    proc = grammar.processor()
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        out: list[int] = []
        while True:
            tok = int(proc(out, torch.randn(VOCAB, generator=gen)).argmax())
            if tok == 0:
                break
            out.append(tok)
        assert grammar.pick("".join(map(chr, out))) in grammar.options


def test_candidate_spans_are_copied_from_the_sentence() -> None:
    text = "The painter Mira Holt moved to Tallinn in 1987 with her brother."
    spans = candidate_spans(get_nlp()(text))
    assert {"Mira Holt", "Tallinn", "1987"} <= set(spans)
    assert all(s in text for s in spans)
    assert not any(s.startswith(("The ", "the ", "with ")) for s in spans)


SCHEMA = Schema.from_names(["birthPlace", "sibling", "residence"])
DOCS = [Document("a", "Mira Holt was born in Tallinn. Her brother Jon Holt lives in Riga.", metadata={}),
        Document("b", "Oskar Vane lives in Tartu.", metadata={"schema": Schema.from_names(["residence"])}),
        Document("c", "   ")]


@pytest.mark.parametrize("seed", range(3))
def test_lm_extractor_facts_respect_schema_and_spans(seed: int) -> None:
    ex = LMExtractor(FakeLM(seed), schema=SCHEMA, max_triples=3, max_new_tokens=200)
    result = ex.extract(DOCS)
    assert [(s.doc_id, s.reason) for s in result.skipped] == [("c", "empty text")]
    names = {e.id: e.name for e in result.entities}
    for fact in result.facts:
        prov = fact.provenance[0]
        allowed = SCHEMA.names if prov.doc_id == "a" else ("residence",)
        assert fact.relation in allowed and prov.extractor == "lm"
        assert names[fact.subject] in prov.sentence and names[fact.object] in prov.sentence


def test_lm_extractor_reports_model_failures_and_keeps_working() -> None:
    lm = FakeLM()
    lm.engine.runner.fail_steps = 10_000                   # every step fails
    result = LMExtractor(lm, schema=SCHEMA).extract(DOCS)
    assert result.facts == []
    reasons = {s.doc_id: s.reason for s in result.skipped}
    assert reasons["c"] == "empty text"
    assert reasons["a"].startswith("language model failed: ") and reasons["b"].startswith("language model failed")
    lm.engine.runner.fail_steps = 0                        # the engine is usable afterwards
    assert LMExtractor(lm, schema=SCHEMA).extract(DOCS[1:2]).skipped == []


def test_one_at_a_time_gives_the_same_facts_as_batched_for_a_deterministic_model() -> None:
    class Greedy(RandomRunner):
        def run(self, batch):              # logits depend on the sequence only, not on the batch
            sampled = [s for s, f in zip(batch.seqs, batch.sample) if f]
            rows = [torch.randn(VOCAB, generator=torch.Generator().manual_seed(len(s.token_ids) * 7 + sum(s.token_ids)))
                    for s in sampled]
            return sample(torch.stack(rows), sampled)

    outs = []
    for batch in (True, False):
        lm = FakeLM()
        lm.engine.runner = Greedy(max_model_len=4096)
        outs.append(sorted(f.id for f in LMExtractor(lm, schema=SCHEMA, batch=batch).extract(DOCS).facts))
    assert outs[0] == outs[1]


def test_verify_keeps_only_schema_relations_chosen_for_rule_candidates() -> None:
    from kgllm.extract.rules import RuleExtractor

    candidates = {frozenset((f.subject, f.object)) for f in RuleExtractor().extract(DOCS).facts}
    result = LMExtractor(FakeLM(1), schema=SCHEMA, task="verify", top_k=2).extract(DOCS)
    assert len(result.facts) == 4                  # this seed's "model" chose a relation, not "none", for each
    for fact in result.facts:
        assert fact.relation in SCHEMA.names and fact.provenance[0].extractor == "lm-verify"
        assert frozenset((fact.subject, fact.object)) in candidates       # a rules candidate (perhaps turned round)
    assert {f.relation for f in result.facts if f.provenance[0].doc_id == "b"} == {"residence"}   # b's own schema


class Fixed:
    def __init__(self, name: str, facts: list[Fact], skipped=()) -> None:
        self.name, self.facts, self.skipped = name, facts, list(skipped)

    def extract(self, documents, progress=False):
        from kgllm.extract.base import ExtractionResult

        return ExtractionResult(facts=list(self.facts), skipped=list(self.skipped))


def test_hybrid_unions_facts_and_reports_a_document_only_when_every_part_skipped_it() -> None:
    from kgllm.extract.base import SkippedDocument

    p = Provenance("d", 0)
    a = Fixed("rules", [Fact("x", "r", "y", 1.0, (p,))], [SkippedDocument("e", -1, "empty text"),
                                                          SkippedDocument("f", -1, "boom")])
    b = Fixed("lm", [Fact("x", "r", "y", 0.6, (p,)), Fact("x", "s", "z", 0.6, (p,))],
              [SkippedDocument("e", -1, "empty text")])
    out = HybridExtractor([a, b]).extract([])
    assert sorted(f.relation for f in out.facts) == ["r", "s"]
    assert [s.doc_id for s in out.skipped] == ["e"]


def test_make_extractor_modes() -> None:
    assert make_extractor("rules").name == "rules"
    assert make_extractor("lm", llm=FakeLM()).name == "lm"
    assert make_extractor("hybrid", llm=FakeLM(), task="both").name == "hybrid"
    with pytest.raises(ConfigError, match="rules, lm, hybrid"):
        make_extractor("neural")
    with pytest.raises(ConfigError, match="task"):
        LMExtractor(FakeLM(), task="summarise")


def test_demo_bank_picks_similar_examples_never_the_text_itself(tmp_path) -> None:
    path = tmp_path / "demos.jsonl"
    rows = [{"text": "Lena Berg was born in Bergen.", "triples": [["Lena Berg", "birthPlace", "Bergen"]]},
            {"text": "The bridge is 300 metres long.", "triples": [["bridge", "length", "300 metres"]]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    bank = DemoBank.from_file(path)
    assert bank.select("Tomas Kurg was born in Narva.", k=1)[0].text == rows[0]["text"]
    assert bank.select(rows[0]["text"], k=2)[0].text == rows[1]["text"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"bad.jsonl:1: a demonstration needs"):
        DemoBank.from_file(bad)


def test_demos_go_into_the_prompt() -> None:
    lm = FakeLM()
    seen: list[str] = []
    original = lm.engine.as_completed

    def spy(prompts, params=None):
        seen.extend(prompts)
        return original(prompts, params)

    lm.engine.as_completed = spy
    bank = DemoBank([("Lena Berg was born in Bergen.", [("Lena Berg", "birthPlace", "Bergen")])])
    LMExtractor(lm, schema=SCHEMA, demos=bank).extract(DOCS[1:2])
    assert len(seen) == 1 and '{"s": "Lena Berg", "r": "birthPlace", "o": "Bergen"}' in seen[0]
    assert "Relations: residence" in seen[0] and "Oskar Vane lives in Tartu." in seen[0]


def test_generic_generator_output_is_filtered_to_spans_and_schema() -> None:
    class Chatty:
        def chat(self, conversations, max_new_tokens=48):
            return ['[{"s": "Oskar Vane", "r": "residence", "o": "Tartu"}, {"s": "Oskar", "r": "mayor", '
                    '"o": "Tartu"}, {"s": "Paris", "r": "residence", "o": "Tartu"}]'] * len(conversations)

    result = LMExtractor(Chatty()).extract(DOCS[1:2])
    assert [f.as_line() for f in result.facts] == ["oskar vane --residence--> tartu"]
    assert isinstance(result, GraphDelta)


def test_eval_extraction_constrains_each_item_to_its_own_relations(tmp_path) -> None:
    from kgllm.eval.extraction import evaluate_extraction

    path = tmp_path / "items.jsonl"
    rows = [{"text": "Mira Holt was born in Tallinn.", "triples": [["Mira Holt", "birthPlace", "Tallinn"]],
             "relations": ["birthPlace", "deathPlace"]},
            {"text": "Oskar Vane lives in Tartu.", "triples": [["Oskar Vane", "residence", "Tartu"]],
             "relations": ["residence"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    seen: list = []
    ex = LMExtractor(FakeLM(2))
    original = ex.extract

    def spy(docs, progress=False):
        out = original(docs, progress)
        seen.extend((f.provenance[0].doc_id, f.relation) for f in out.facts)
        return out

    ex.extract = spy
    result = evaluate_extraction(path, extractor=ex)
    assert result["n"] == 2 and result["skipped"] == 0
    for doc_id, relation in seen:
        assert relation in (rows[0] if doc_id.endswith(":1") else rows[1])["relations"]


def test_cli_rejects_an_unknown_mode(tmp_path) -> None:
    from typer.testing import CliRunner

    from kgllm.cli import app

    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"text": "A b.", "triples": []}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "extraction", str(path), "--mode", "neural"])
    assert result.exit_code != 0 and "rules, lm, hybrid" in result.output


def test_hybrid_fallback_keeps_the_model_only_where_the_rules_found_nothing() -> None:
    rules = Fixed("rules", [Fact("x", "r", "y", 1.0, (Provenance("d", 0),))])
    model = Fixed("lm", [Fact("x", "s", "z", 0.6, (Provenance("d", 0),)),
                         Fact("u", "t", "v", 0.6, (Provenance("d", 1),))])
    out = HybridExtractor([rules, model], fallback=True).extract([])
    assert sorted((f.relation, f.provenance[0].chunk) for f in out.facts) == [("r", 0), ("t", 1)]
