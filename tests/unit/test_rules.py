"""RuleExtractor on hand-written sentences, with the real spaCy pipeline."""

from __future__ import annotations

import pytest

from kgllm.errors import InputError
from kgllm.extract.base import Extractor
from kgllm.extract.rules import RuleExtractor, relation_name
from kgllm.types import Document, GraphDelta


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    return RuleExtractor()


def triples(extractor: RuleExtractor, text: str) -> set[tuple[str, str, str]]:
    delta = extractor.extract([Document("t", text)])
    return {(f.subject, f.relation, f.object) for f in delta.facts}


def test_is_an_extractor() -> None:
    ex = RuleExtractor()
    assert isinstance(ex, Extractor)
    assert ex.name == "rules"
    assert ex._nlp is None  # nothing loaded before the first extract


def test_relation_name() -> None:
    assert relation_name("born", "in") == "born_in"
    assert relation_name("Parent Company", "of") == "parent_company_of"


def test_active_verbs_with_objects_and_full_names(extractor) -> None:
    got = triples(extractor, "Marie Curie was born in Warsaw and studied at the University of Paris.")
    assert ("marie curie", "born_in", "warsaw") in got
    assert ("marie curie", "study_at", "university of paris") in got
    assert not any(s == "curie" for s, _, _ in got)


def test_direct_object(extractor) -> None:
    assert ("ada lindqvist", "discover", "helium") in triples(extractor, "Ada Lindqvist discovered helium.")


def test_passive_with_agent_and_conjoined_objects(extractor) -> None:
    got = triples(extractor, "Apple was founded by Steve Jobs and Steve Wozniak.")
    assert {("apple", "founded_by", "steve jobs"), ("apple", "founded_by", "steve wozniak")} <= got


def test_conjoined_subjects(extractor) -> None:
    got = triples(extractor, "Tom and Anna live in Berlin.")
    assert {("tom", "live_in", "berlin"), ("anna", "live_in", "berlin")} <= got


def test_copula_with_of_complement(extractor) -> None:
    assert ("warsaw", "capital_of", "poland") in triples(extractor, "Warsaw is the capital of Poland.")


def test_subject_with_of_is_read_as_possessive(extractor) -> None:
    got = triples(extractor, "The leader of Aarhus is Jacob Bundsgaard.")
    assert ("aarhus", "leader", "jacob bundsgaard") in got


def test_appositions(extractor) -> None:
    got = triples(extractor, "Ada, a chemist, lives in Oslo, the capital of Norway.")
    assert ("ada", "is_a", "chemist") in got
    assert ("ada", "live_in", "oslo") in got
    assert ("oslo", "capital_of", "norway") in got


def test_possessives(extractor) -> None:
    assert ("poland", "capital", "warsaw") in triples(extractor, "Poland's capital Warsaw is a big city.")
    assert ("sheila", "sister", "diana") in triples(extractor, "Sheila's sister, Diana, was not invited.")


def test_possessive_pronouns_take_the_clause_subject(extractor) -> None:
    got = triples(extractor, "Jason and his wife Gabrielle baked a cake for Lisa, his daughter.")
    assert ("jason", "wife", "gabrielle") in got
    assert ("jason", "daughter", "lisa") in got
    assert not any(rel == "daughter" and s == "lisa" for s, rel, _ in got)


def test_relative_clause(extractor) -> None:
    got = triples(extractor, "Tom, who was born in Paris, works for Google.")
    assert ("tom", "born_in", "paris") in got
    assert ("tom", "work_for", "google") in got


def test_pronoun_subject_resolved_across_sentences(extractor) -> None:
    got = triples(extractor, "Marie Curie moved to Paris. She studied at the Sorbonne.")
    assert ("marie curie", "study_at", "sorbonne") in got


def test_negated_verb_gives_no_fact(extractor) -> None:
    assert not any(r.startswith("visit") for _, r, _ in triples(extractor, "Tom did not visit Rome."))


def test_provenance_points_at_the_sentence(extractor) -> None:
    text = "Some intro here.  Marie Curie was born in Warsaw. She died in Passy."
    doc = Document("doc-7", text)
    delta = extractor.extract([doc])
    fact = next(f for f in delta.facts if f.relation == "born_in")
    (p,) = fact.provenance
    assert (p.doc_id, p.chunk, p.extractor) == ("doc-7", 1, "rules")
    assert text[p.start:p.end] == "Marie Curie was born in Warsaw." == p.sentence
    died = next(f for f in delta.facts if f.relation == "die_in")
    assert died.subject == "marie curie"
    assert text[died.provenance[0].start:died.provenance[0].end] == "She died in Passy."
    assert all(0 < f.confidence <= 1 for f in delta.facts)


def test_entities_for_mentions(extractor) -> None:
    delta = extractor.extract([Document("d", "Marie Curie was born in Warsaw.")])
    by_id = {e.id: e for e in delta.entities}
    assert by_id["marie curie"].name == "Marie Curie"
    assert by_id["marie curie"].type == "PERSON"
    assert by_id["warsaw"].type == "GPE"
    assert len(by_id) == len(delta.entities)  # one entity per id


def test_several_documents_keep_their_ids(extractor) -> None:
    docs = [Document("a", "Oslo is the capital of Norway."), Document("b", "Paris is the capital of France.")]
    delta = extractor.extract(docs)
    where = {f.object: f.provenance[0].doc_id for f in delta.facts if f.relation == "capital_of"}
    assert where == {"norway": "a", "france": "b"}


def test_empty_inputs(extractor) -> None:
    assert extractor.extract([]) == GraphDelta()
    with pytest.raises(InputError, match="doc-empty"):
        extractor.extract([Document("ok", "Oslo is in Norway."), Document("doc-empty", "   ")])


def test_progress_bar_runs(extractor) -> None:
    delta = extractor.extract([Document("d", "Oslo is the capital of Norway.")], progress=True)
    assert len(delta) >= 1
