"""The trained extractor: a tiny model trained in seconds on invented sentences, read back from its folder."""

from __future__ import annotations

import json

import pytest
import torch

from kgllm.errors import InputError, NotFoundError
from kgllm.extract.lm import make_extractor
from kgllm.extract.rules import RuleExtractor
from kgllm.extract.trained import TrainedExtractor, TrainedModel
from kgllm.extract.training import train_extraction
from kgllm.schema import Schema
from kgllm.types import Document

PEOPLE = ["Ana Lutz", "Bram Okafor", "Cleo Varga", "Dario Pellin", "Edda Morn", "Farid Santos", "Greta Ulvang",
          "Hugo Brandt", "Ilse Kober", "Jonas Reyes", "Kaia Monti", "Lev Hartog"]
PLACES = ["Porto", "Tromsø", "Lund", "Graz", "Ghent", "Kumasi", "Cusco", "Tartu", "Bergen", "Varna", "Split", "Bilbao"]
FIRMS = ["Nordlys Works", "Kestrel Dynamics", "Ostby Mills", "Fjordcell", "Atelier Nord", "Varnholm Glass"]
RELATIONS = ["birthPlace", "employer", "foundingYear"]


def _examples() -> list[dict]:
    rows = []
    for k, person in enumerate(PEOPLE):
        place, firm, other = PLACES[k], FIRMS[k % len(FIRMS)], PLACES[(k + 5) % len(PLACES)]
        year = str(1950 + 3 * k)
        rows += [
            {"text": f"{person} was born in {place} and works for {firm}.",
             "triples": [[person, "birthPlace", place], [person, "employer", firm]]},
            {"text": f"{firm} employs {person}, who moved to {other} later.",
             "triples": [[person, "employer", firm]]},
            {"text": f"Born in {place}, {person} visited {other} in {year}.",
             "triples": [[person, "birthPlace", place]]},
            {"text": f"{firm} was founded in {year} in {place}.",
             "triples": [[firm, "foundingYear", year]]},
        ]
    for k, row in enumerate(rows):
        row.update(id=f"ont_1_people_train_{k}", relations=RELATIONS)
    return rows


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("train") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _examples()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_dir(train_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m"
    train_extraction([train_file], out, seed=3, epochs=50, hidden=64, holdout=0.0)
    return out


def test_model_directory_is_a_plain_folder(model_dir) -> None:
    assert sorted(p.name for p in model_dir.iterdir()) == ["config.json", "head.pt", "names.npy", "normaliser.json"]
    config = json.loads((model_dir / "config.json").read_text())
    assert config["format"] == "kgllm-trained-extraction" and config["seed"] == 3
    assert config["relations"] == sorted(RELATIONS) and config["examples"] == 4 * len(PEOPLE)
    assert config["aligned"] > 0.9 and config["seconds"] > 0


def test_reads_unseen_sentences_with_direction(model_dir) -> None:
    assert isinstance(make_extractor("trained", model_dir=model_dir), TrainedExtractor)
    model = TrainedModel.load(model_dir)
    model.config["threshold"] = 0.3        # a model of 48 sentences is not sure of much
    ex = TrainedExtractor(model, schema=Schema.from_names(RELATIONS))
    docs = [Document("a", "Mira Solberg was born in Narvik and works for Tindra Labs."),
            Document("b", "Tindra Labs was founded in 1987 in Narvik.")]
    result = ex.extract(docs)
    lines = {f.as_line() for f in result.facts}
    assert "mira solberg --birthPlace--> narvik" in lines
    assert "mira solberg --employer--> tindra labs" in lines
    assert "tindra labs --foundingYear--> 1987" in lines
    assert "narvik --birthPlace--> mira solberg" not in lines          # direction is the model's too
    fact = next(f for f in result.facts if f.relation == "employer")
    assert fact.provenance[0].extractor == "trained" and fact.provenance[0].sentence == docs[0].text
    assert 0 < fact.confidence <= 1


def test_same_seed_same_weights(train_file, tmp_path) -> None:
    a = train_extraction([train_file], tmp_path / "a", seed=7, epochs=2, hidden=16, holdout=0.0, limit=12)
    b = train_extraction([train_file], tmp_path / "b", seed=7, epochs=2, hidden=16, holdout=0.0, limit=12)
    wa = torch.load(tmp_path / "a" / "head.pt", weights_only=True)
    wb = torch.load(tmp_path / "b" / "head.pt", weights_only=True)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = train_extraction([train_file], tmp_path / "c", seed=8, epochs=2, hidden=16, holdout=0.0, limit=12)
    wc = torch.load(tmp_path / "c" / "head.pt", weights_only=True)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert a["pairs"] == b["pairs"] and c["seed"] == 8


def test_without_a_schema_the_rules_read(model_dir) -> None:
    docs = [Document("p", "Oda Vestre supervises Tomas Berg. Tomas Berg was born in Lund.")]
    trained = TrainedExtractor(model_dir).extract(docs)
    rules = RuleExtractor().extract(docs)
    assert {f.as_line() for f in trained.facts} == {f.as_line() for f in rules.facts} != set()
    assert {p.extractor for f in trained.facts for p in f.provenance} == {"rules"}


def test_empty_documents_are_skipped(model_dir) -> None:
    ex = TrainedExtractor(model_dir, schema=Schema.from_names(RELATIONS))
    result = ex.extract([Document("e", "   "), Document("f", "Ana Lutz was born in Porto.")])
    assert [s.doc_id for s in result.skipped] == ["e"]
    assert any(f.relation == "birthPlace" for f in result.facts)


def test_missing_or_broken_model_dir(model_dir, tmp_path) -> None:
    with pytest.raises(NotFoundError, match="no trained extraction model here"):
        TrainedExtractor(tmp_path / "nothing")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "names.npy", "normaliser.json"):
        (broken / name).write_bytes((model_dir / name).read_bytes())
    with pytest.raises(NotFoundError, match="missing head.pt"):
        TrainedModel.load(broken)
    (broken / "head.pt").write_bytes(b"not weights")
    with pytest.raises(InputError, match="unreadable model weights"):
        TrainedModel.load(broken)
    config = json.loads((model_dir / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "symbols": config["symbols"] - 2}))
    with pytest.raises(InputError, match="train the model again"):     # features changed since it was written
        TrainedModel.load(broken)
    (broken / "config.json").write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="not a kgllm trained extraction model"):
        TrainedModel.load(broken)


def test_bad_training_file_names_file_and_line(tmp_path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"text": "Ana Lutz was born in Porto.", "triples": [["Ana Lutz", "birthPlace", "Porto"]]}\n'
                 '{"text": "x", "triples": [["a", "b"]]}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.jsonl:2: triple 0 must be a list of 3 strings"):
        train_extraction([f], tmp_path / "m")
    f.write_text('{"text": "x", "triples": []}\n{not json\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.jsonl:2: malformed JSON"):
        train_extraction([f], tmp_path / "m")
    with pytest.raises(NotFoundError, match="training file not found"):
        train_extraction([tmp_path / "absent.jsonl"], tmp_path / "m")
    assert not (tmp_path / "m").exists()
