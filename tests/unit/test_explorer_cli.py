"""``kgllm serve``: refuses unsafe or impossible settings with one clear line; serves a graph file."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.cli.explorer import is_loopback

runner = CliRunner()


def test_non_loopback_host_needs_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("KGLLM_TOKEN", raising=False)
    graph = tmp_path / "g.json"
    graph.write_text("{}", encoding="utf-8")
    result = runner.invoke(app, ["serve", "--graph", str(graph), "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--token" in result.output and "0.0.0.0" in result.output
    short = runner.invoke(app, ["serve", "--graph", str(graph), "--host", "0.0.0.0", "--token", "abc"])
    assert short.exit_code == 2 and "at least 8" in short.output


def test_missing_graph_file_is_named(tmp_path):
    result = runner.invoke(app, ["serve", "--graph", str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "none.json" in result.output and "does not exist" in result.output
    assert runner.invoke(app, ["serve"]).exit_code == 2


def test_is_loopback():
    assert is_loopback("127.0.0.5") and is_loopback("[::1]") and not is_loopback("192.168.1.4")
    assert not is_loopback("example.org")


@pytest.mark.slow
def test_serve_prints_its_url_and_serves_the_graph(tmp_path):
    from tests.unit.test_explorer_api import sample_store

    graph = tmp_path / "g.json"
    sample_store().save(graph)
    env = {**os.environ, "KGLLM_TOKEN": "token-for-tests"}
    proc = subprocess.Popen([sys.executable, "-m", "kgllm.cli", "serve", "--graph", str(graph), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        assert httpx.get(url + "api/stats", timeout=30).status_code == 401
        stats = httpx.get(url + "api/stats", headers={"Authorization": "Bearer token-for-tests"}, timeout=30)
        assert stats.json()["counts"]["facts"] == 8
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
