"""The ``eval`` commands' wiring: what they pass to the evaluators and the LM, and what they print."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

import kgllm.cli.evaluate as evaluate_cmds
import kgllm.lm
from kgllm.cli import app
from kgllm.eval import extraction, kgqa, textgraph

runner = CliRunner()
RESULT = {"n": 4, "hits@1": 0.5, "path_recall": 0.75}


class FakeLM:
    """Records how it was built and whether it was closed."""

    made: list["FakeLM"] = []

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs, self.closed = args, kwargs, 0
        FakeLM.made.append(self)

    def chat(self, conversations, max_new_tokens=48):
        return ["" for _ in conversations]

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def calls(monkeypatch):
    """Fake evaluators and LM constructors; yields the list of (evaluator, args, kwargs) calls."""
    seen: list[tuple[str, tuple, dict]] = []

    def fake(name):
        def run(*args, **kwargs):
            seen.append((name, args, kwargs))
            return dict(RESULT)
        return run

    monkeypatch.setattr(kgqa, "evaluate_kgqa", fake("kgqa"))
    monkeypatch.setattr(extraction, "evaluate_extraction", fake("extraction"))
    monkeypatch.setattr(textgraph, "evaluate_textgraph", fake("textgraph"))
    monkeypatch.setattr(kgllm.lm, "LocalLM", FakeLM)
    monkeypatch.setattr(kgllm.lm, "resolve_llm", lambda spec, **kw: FakeLM(spec, **kw))
    FakeLM.made = []
    return seen


def invoke(*args: str, status: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == status, result.output
    return result


def test_kgqa_json_is_one_line_with_the_result_and_no_lm(calls, tmp_path):
    out = invoke("eval", "kgqa", "q.jsonl", "--kb", "kb.tsv", "--limit", "3", "--json").stdout
    assert out.splitlines() == [json.dumps(RESULT)]
    (name, args, kwargs), = calls
    assert (name, [str(a) for a in args]) == ("kgqa", ["kb.tsv", "q.jsonl"])
    assert kwargs == {"limit": 3, "progress": False, "store": None, "llm": None, "baseline": None}
    assert FakeLM.made == []


def test_kgqa_with_llm_shows_lm_progress_on_a_terminal_and_closes_the_lm(calls, monkeypatch):
    monkeypatch.setattr(evaluate_cmds, "err", Console(stderr=True, force_terminal=True))
    invoke("eval", "kgqa", "q.jsonl", "--kb", "kb.tsv", "--llm", "--json")
    lm, = FakeLM.made
    assert lm.args == (None,) and lm.kwargs == {"progress": True}
    assert calls[0][2]["llm"] is lm and calls[0][2]["progress"] is True
    assert lm.closed == 1


def test_kgqa_through_a_server(calls):
    invoke("eval", "kgqa", "q.jsonl", "--kb", "kb.tsv", "--llm-url", "http://127.0.0.1:9/v1", "--llm-name", "m",
           "--llm-api-key", "tok", "--json")
    lm, = FakeLM.made
    assert lm.args == ("http://127.0.0.1:9/v1",)
    assert lm.kwargs == {"model": "m", "api_key": "tok", "progress": False}
    assert lm.closed == 1
    bad = invoke("eval", "kgqa", "q.jsonl", "--kb", "kb.tsv", "--llm-url", "http://127.0.0.1:9/v1", "--model",
                 "x.gguf", status=2)
    assert "--model and --llm-url exclude each other" in bad.stderr


def test_textgraph_uses_the_lm_unless_no_llm(calls):
    invoke("eval", "textgraph", "stories.jsonl", "--limit", "2", "--no-llm", "--json")
    assert calls[-1][2] == {"limit": 2, "progress": False, "llm": None}
    invoke("eval", "textgraph", "stories.jsonl", "--json")
    lm, = FakeLM.made
    assert calls[-1][2]["llm"] is lm and lm.kwargs == {"progress": False} and lm.closed == 1


def test_extraction_prints_a_table_of_metrics(calls):
    text = invoke("eval", "extraction", "texts.jsonl", "--limit", "4").stdout
    assert calls == [("extraction", (calls[0][1][0],), {"limit": 4, "progress": False, "use_schema": True,
                                                         "canonicalize": False})]
    assert "extraction: texts.jsonl" in text
    cells = [line.split("│") for line in text.splitlines() if line.count("│") == 3]
    rows = {c[1].strip(): c[2].strip() for c in cells}
    assert rows == {"n": "4", "hits@1": "0.5000", "path_recall": "0.7500"}
