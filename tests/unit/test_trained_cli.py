"""The trained extractor's commands and settings: train, build, eval, job specs; bad input exits 2 naming it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.eval.extraction import evaluate_extraction
from kgllm.jobs.pipeline import make_extractor as job_extractor
from kgllm.jobs.spec import SpecError, load_spec

runner = CliRunner()


def invoke(*args: str, status: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == status, result.output
    return result


def test_train_names_the_bad_line(tmp_path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"text": "Ana Lutz was born in Porto.", "triples": [["Ana Lutz", "birthPlace", "Porto"]]}\n'
                 '{"text": "Bo Ek.", "triples": "none"}\n', encoding="utf-8")
    bad = invoke("train", "extraction", f, "--out", tmp_path / "m", status=2)
    assert f"{f}:2: expected 'triples' as a list" in " ".join(bad.stderr.split())
    assert not (tmp_path / "m").exists()
    missing = invoke("train", "extraction", tmp_path / "absent.jsonl", "--out", tmp_path / "m", status=2)
    assert "training file not found" in missing.stderr


def test_build_and_eval_need_a_model_dir_that_exists(tmp_path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Ana Lutz was born in Porto.\n", encoding="utf-8")
    out = invoke("build", note, "--graph", tmp_path / "g.sqlite", "--extractor", "trained", status=2)
    assert "--model-dir" in out.stderr
    out = invoke("build", note, "--graph", tmp_path / "g.sqlite", "--extractor", "trained", "--model-dir",
                 tmp_path / "nomodel", status=2)
    assert "nomodel: no trained extraction model here" in " ".join(out.stderr.split())
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"text": "Ana Lutz was born in Porto.", "triples": []}) + "\n", encoding="utf-8")
    out = invoke("eval", "extraction", items, "--mode", "trained", "--model-dir", tmp_path / "nomodel", status=2)
    assert "no trained extraction model here" in " ".join(out.stderr.split())
    out = invoke("eval", "extraction", items, "--model-dir", tmp_path / "nomodel", status=2)
    assert "--model-dir goes with --mode trained" in " ".join(out.stderr.split())


def test_eval_prints_per_relation_scores_and_confusions(tmp_path) -> None:
    items = tmp_path / "items.jsonl"
    rows = [{"text": "Oslo is the capital of Norway. Oslo lies in Norway.",
             "triples": [["Norway", "capital", "Oslo"], ["Oslo", "country", "Norway"]]}]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(["capital", "country"]), encoding="utf-8")
    text = invoke("eval", "extraction", items, "--schema", schema).stdout
    assert "per relation, strict" in text and "confusions" in text
    data = json.loads(invoke("eval", "extraction", items, "--schema", schema, "--json").stdout)
    assert data["typed"] == 1 and set(data["relations"]) >= {"capital"}
    assert data["relations"]["capital"]["gold"] == 1
    assert evaluate_extraction(items)["typed"] == 0           # without a schema nothing is typed


def test_job_specs_take_the_trained_mode(tmp_path) -> None:
    (tmp_path / "texts").mkdir()
    spec = tmp_path / "job.yaml"
    spec.write_text("sources:\n  - folder: texts\nstore: g.sqlite\nextractor:\n  mode: trained\n"
                    "  model_dir: models/rel\n", encoding="utf-8")
    loaded = load_spec(spec)
    assert loaded.extractor.mode == "trained" and loaded.extractor.model_dir == tmp_path / "models" / "rel"
    with pytest.raises(Exception, match="no trained extraction model here"):
        job_extractor(loaded.extractor)
    spec.write_text("sources:\n  - folder: texts\nstore: g.sqlite\nextractor:\n  mode: trained\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"job\.yaml:4: .*mode trained needs it"):
        load_spec(spec)
