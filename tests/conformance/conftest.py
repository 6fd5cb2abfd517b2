"""Fixtures of the store conformance suite: one real Neo4j server per session, a fresh store per test.

The Neo4j server is the Maven project in ``graphs/neo4j-server`` (see :mod:`kgllm.neo4j_server`).
Without Java or Maven the Neo4j half of the suite is skipped on a developer machine,
but fails loudly in CI (``CI=true``), where it must run.
"""

from __future__ import annotations

import os

import pytest

from kgllm.errors import ConfigError
from kgllm.stores.memory import MemoryStore

STORES = ["memory", "neo4j"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    """Every test that needs the Neo4j server (the JVM) is ``slow``: ``-m "not slow"`` runs the memory half."""
    for item in items:
        if "neo4j_server" in getattr(item, "fixturenames", ()) or "[neo4j" in item.nodeid:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def neo4j_server():
    """A Neo4j server started once for the session (port chosen free, data in a temporary folder)."""
    from kgllm.neo4j_server import Neo4jServer

    server = Neo4jServer()
    try:
        server.build()
    except ConfigError as exc:
        if _in_ci():
            pytest.fail(f"Neo4j conformance tests cannot run in CI: {exc}", pytrace=False)
        pytest.skip(f"Neo4j server unavailable: {exc}")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def neo4j_store(neo4j_server):
    """One connected :class:`Neo4jStore` for the session (cleared by ``store`` before each test)."""
    from kgllm.stores.neo4j import Neo4jStore

    store = Neo4jStore.connect(neo4j_server.uri, auth=neo4j_server.auth, retry_timeout=5.0)
    yield store
    store.close()


@pytest.fixture(params=STORES)
def store(request):
    """A fresh, empty store of each kind."""
    if request.param == "memory":
        return MemoryStore()
    neo = request.getfixturevalue("neo4j_store")
    if not neo4j_running(request):
        request.getfixturevalue("neo4j_server").start()
    neo.clear()
    return neo


def neo4j_running(request) -> bool:
    return request.getfixturevalue("neo4j_server").running
