"""The Neo4j server launcher without a server: finding the Maven project, and what an installed kgllm says."""

from __future__ import annotations

import pytest

from kgllm.errors import ConfigError
from kgllm.neo4j_server import SERVER_DIR, Neo4jServer, find_server_dir, free_port, start_background


def test_installed_kgllm_says_what_neo4j_start_needs(tmp_path, monkeypatch):
    empty = tmp_path / "site-packages-without-checkout"
    empty.mkdir()
    monkeypatch.setenv("KGLLM_NEO4J_SERVER_DIR", str(empty))
    with pytest.raises(ConfigError) as err:
        start_background(tmp_path / "db", port=free_port())
    message = str(err.value)
    for needed in (str(empty), "graphs/neo4j-server", "KGLLM_NEO4J_SERVER_DIR", "Java 17", "Maven",
                   "docker compose", "--uri bolt://"):
        assert needed in message
    assert not (tmp_path / "db" / "neo4j.pid").exists()


def test_server_dir_parameter_is_checked_before_java_starts(tmp_path):
    with pytest.raises(ConfigError, match="no pom.xml"):
        Neo4jServer(server_dir=tmp_path).start()
    with pytest.raises(ConfigError, match=str(tmp_path)):
        find_server_dir(tmp_path)


def test_find_server_dir_order(tmp_path, monkeypatch):
    (tmp_path / "pom.xml").write_text("<project/>")
    monkeypatch.setenv("KGLLM_NEO4J_SERVER_DIR", str(tmp_path))
    assert find_server_dir() == tmp_path
    monkeypatch.delenv("KGLLM_NEO4J_SERVER_DIR")
    assert find_server_dir() == SERVER_DIR == SERVER_DIR.parents[1] / "graphs" / "neo4j-server"
