"""A saved model folder of each family serves ``kgllm ask --model FOLDER`` and the LM extractor (tiny random
weights saved as a Hugging Face folder; the answers are checked against the graph, the facts are copied spans)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.engine.tiny import save_tiny

FAMILIES = ["gemma2", "gemma3", "llama3", "mistral", "phi3", "qwen2", "qwen3"]
TEXT = "Ada Lind was born in Lund. Lund is a city in Sweden. Ada Lind founded Fjordcell in 2015."

runner = CliRunner()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    (root / "note.txt").write_text(TEXT + "\n")
    built = runner.invoke(app, ["build", str(root / "note.txt"), "--graph", str(root / "g.sqlite")])
    assert built.exit_code == 0, built.output
    for name in FAMILIES:
        save_tiny(name, root / name)
    return root


@pytest.mark.parametrize("name", FAMILIES)
def test_ask_with_a_model_folder_of_each_family(workdir, name):
    result = runner.invoke(app, ["ask", "In which country was Ada Lind born?", "--graph", str(workdir / "g.sqlite"),
                                 "--model", str(workdir / name), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout[result.stdout.index("{"):])
    candidates = {e["name"] for e in answer["entities"]}
    assert "Sweden" in candidates and answer["facts"]
    # random weights: the model's constrained choice may be any candidate, but it is one, and it is the answer
    assert answer["generated"] in candidates and answer["answer"] == answer["generated"]


@pytest.mark.parametrize("name", FAMILIES)
def test_lm_extractor_with_a_model_folder_of_each_family(workdir, name):
    from kgllm.extract.lm import make_extractor
    from kgllm.graph import KnowledgeGraph
    from kgllm.lm import LocalLM

    kg = KnowledgeGraph(extractor=make_extractor("lm", llm=LocalLM(workdir / name)))
    report = kg.ingest([TEXT])
    assert report.documents == 1 and not report.skipped
    assert report.extracted > 0
    facts = list(kg.store.facts())
    names = {e.id: e.name for e in kg.store.entities()}
    assert facts and all(names[f.subject] in TEXT and names[f.object] in TEXT for f in facts)   # copied spans


@pytest.mark.parametrize("name", ["llama3", "qwen2"])
def test_build_with_the_lm_extractor_and_a_model_folder(workdir, name):
    graph = workdir / f"lm-{name}.sqlite"
    result = runner.invoke(app, ["build", str(workdir / "note.txt"), "--graph", str(graph), "--extractor", "lm",
                                 "--model", str(workdir / name)])
    assert result.exit_code == 0, result.output
    assert "1 document" in result.output and graph.exists()


def test_build_refuses_a_model_without_the_lm_extractor(workdir):
    result = runner.invoke(app, ["build", str(workdir / "note.txt"), "--graph", str(workdir / "x.sqlite"),
                                 "--model", str(workdir / "qwen2")])
    assert result.exit_code == 2 and "--model" in result.output
