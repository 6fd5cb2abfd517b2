"""``kgllm build`` and ``kgllm jobs run`` over the same folder with the same settings give the same graph
(issue 22, item 13): the same resolution by default, entities only as facts use them, the same groups."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.stores.ledger import canonical_dump
from kgllm.stores.memory import MemoryStore

runner = CliRunner()
CORPORA = Path(__file__).resolve().parents[1] / "corpora"


def _folder(tmp_path: Path) -> Path:
    """Two corpora of the project's test texts, a file no one can read and a copy of one text."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for topic in ("business", "family"):
        for text in sorted((CORPORA / topic / "docs").glob("*.txt")):
            shutil.copy(text, docs / f"{topic}-{text.name}")
    (docs / "business-scan.txt").write_bytes(b"\x00\x01binary")
    shutil.copy(docs / "family-edith.txt", docs / "family-edith-copy.txt")
    return docs


def _graph(path: Path) -> tuple[str, list[tuple[str, str, int]]]:
    """The graph (entities, facts, merges) and the ledger's documents (id, content hash, facts) of a graph file."""
    store = MemoryStore.load(path)
    try:
        dump = canonical_dump(store)
        documents = [(d.doc_id, d.content_hash, d.facts) for d in store.documents()]
    finally:
        store.close()
    return "\n".join(line for line in dump.splitlines() if not line.startswith("D ")), documents


@pytest.mark.parametrize("batch", [None, 4])
def test_build_and_a_job_with_the_same_settings_give_the_same_graph(tmp_path, batch):
    docs = _folder(tmp_path)
    build = ["build", str(docs), "--graph", str(tmp_path / "built.sqlite")] + (["--batch-size", str(batch)]
                                                                                 if batch else [])
    built = runner.invoke(app, build)
    assert built.exit_code == 0, built.output
    spec = tmp_path / "job.yaml"
    spec.write_text("sources:\n  - folder: docs\nstore: job.sqlite\n" + (f"batch_size: {batch}\n" if batch else ""),
                    encoding="utf-8")
    ran = runner.invoke(app, ["jobs", "run", str(spec)])
    assert ran.exit_code == 0, ran.output
    assert "1 new documents skipped: another document holds the same content" in ran.stderr, ran.stderr
    graph, documents = _graph(tmp_path / "built.sqlite")
    assert graph.count("\nF ") > 50 and len(documents) == 14          # a real graph; the copy was skipped
    assert _graph(tmp_path / "job.sqlite") == (graph, documents)
