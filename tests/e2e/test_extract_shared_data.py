"""The rule extractor reads every text of the evaluation data without an exception or a skipped document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgllm.extract.rules import RuleExtractor
from kgllm.types import Document


def texts_of(path: Path) -> list[Document]:
    """``text`` of each line, or the ``text`` of each of its ``documents`` (text QA files)."""
    docs = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if "documents" in row:
            docs += [Document(f"{path.name}:{lineno}:{k}", d["text"]) for k, d in enumerate(row["documents"])]
        else:
            docs.append(Document(f"{path.name}:{lineno}", row["text"]))
    return docs


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["extraction", "textgraph", "textqa"])
def test_every_shared_text_is_read(shared_data, folder) -> None:
    files = sorted((shared_data / folder).glob("*.jsonl"))
    assert files, f"no JSONL files in {shared_data / folder}"
    extractor = RuleExtractor()
    for path in files:
        docs = texts_of(path)
        result = extractor.extract(docs)  # raises nothing: that is the test
        assert result.skipped == [], f"{path.name}: {[str(s) for s in result.skipped[:5]]}"
        by_id = {d.id: d.text for d in docs}
        for f in result.facts:
            (p,) = f.provenance
            assert by_id[p.doc_id][p.start:p.end] == p.sentence
        assert len(result.facts) > len(docs) // 2  # the extractor read them, it did not just survive them
