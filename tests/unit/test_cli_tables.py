"""``docs list`` and ``jobs history`` read whole at 80 columns: nothing cut to "…", times whole (issue 22, item 10)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from kgllm.cli import app, common
from kgllm.stores.ledger import DocumentRecord, content_hash
from kgllm.stores.memory import MemoryStore
from kgllm.types import Fact, GraphDelta, Provenance

runner = CliRunner()
IDS = ["reports/2024/quarterly-summary-of-the-northern-region.txt", "reports/2024/annual-report-of-the-board.txt",
       "notes/a.txt"]


@pytest.fixture
def eighty(monkeypatch):
    monkeypatch.setattr(common.out, "_width", 80)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_docs_list_fits_80_columns_without_cutting_anything(tmp_path, eighty):
    store = MemoryStore.open(tmp_path / "g.sqlite", create=True)
    for i, doc_id in enumerate(IDS):
        delta = GraphDelta(facts=[Fact(f"e{i}", "r", f"f{i}", provenance=(Provenance(doc_id),))])
        store.ingest_document(DocumentRecord(doc_id, f"/home/someone/data/{doc_id}", content_hash(doc_id)), delta)
    store.close()
    result = runner.invoke(app, ["docs", "list", "--graph", str(tmp_path / "g.sqlite")])
    assert result.exit_code == 0, result.output
    lines = _lines(result.stdout)
    assert max(len(line) for line in lines) <= 80 and "…" not in result.stdout, result.stdout
    assert len(re.findall(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b", result.stdout)) == 3      # each time whole
    flat = "".join(line.split()[0] for line in lines[3:] if line.split())                  # the id column, folded
    assert all(doc_id.replace(" ", "") in flat for doc_id in IDS), result.stdout


def test_jobs_history_fits_80_columns_without_cutting_anything(tmp_path, eighty):
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("Tarn Vell was born in Orsk.\n", encoding="utf-8")
    spec = tmp_path / "job.yaml"
    spec.write_text("name: nightly-graph-of-the-northern-region\nsources:\n  - folder: texts\nstore: g.sqlite\n",
                    encoding="utf-8")
    for _ in range(2):
        assert runner.invoke(app, ["jobs", "run", str(spec)]).exit_code == 0
    result = runner.invoke(app, ["jobs", "history", str(spec)])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in _lines(result.stdout)) <= 80 and "…" not in result.stdout, result.stdout
    when = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
    assert len(re.findall(rf"\bok\s+{when}\s+(\d{{4}}-\d{{2}}-\d{{2}} )?\d{{2}}:\d{{2}}:\d{{2}}\b", result.stdout)) == 2
