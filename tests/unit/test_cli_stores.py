"""Every command closes the Neo4j store it opened, on success and on error (a recording fake stands in for Neo4j)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgllm.cli import app
from kgllm.eval import kgqa
from kgllm.cli.common import StoreSpec, open_store
from kgllm.errors import StoreError
from kgllm.stores.memory import MemoryStore
from kgllm.stores.neo4j import Neo4jStore

runner = CliRunner()

KB = "mira\tborn_in\tvelden\nvelden\tlocated_in\tkarnia\n"
QUESTIONS = '{"question": "where was mira born?", "answers": ["velden"], "path": ["mira", "born_in", "velden"]}\n'


class RecordingStore(MemoryStore):
    """A stand-in for one Neo4j connection: counts close() calls; with ``fail`` every read and write raises.

    Its content lives in ``db`` between connections, as a server's would: loaded on connect, kept on close.
    """

    def __init__(self, db: dict, fail: bool = False) -> None:
        super().__init__()
        self.closed, self.fail, self.db = 0, fail, db
        if db.get("data"):
            MemoryStore.from_dict(self, db["data"])

    def close(self) -> None:
        self.closed += 1
        self.db["data"] = MemoryStore.to_dict(self)

    def _gone(self, *args, **kwargs):
        raise StoreError("bolt://fake: the server went away")

    def __getattribute__(self, name):
        if name in ("upsert", "stats", "query", "to_dict", "from_dict", "entities", "facts", "find_entities",
                    "subgraph", "get_entity", "neighbors") and object.__getattribute__(self, "fail"):
            return object.__getattribute__(self, "_gone")
        return object.__getattribute__(self, name)


class Opened(list):
    """The RecordingStores handed out, the fake database they share, and whether the server fails."""

    def __init__(self) -> None:
        super().__init__()
        self.db: dict = {}
        self.mode = {"fail": False}


@pytest.fixture
def neo4j(monkeypatch):
    """Patch Neo4jStore.connect to hand out RecordingStores over one fake database."""
    opened = Opened()

    def connect(cls, uri, auth=None, **kwargs):
        store = RecordingStore(opened.db, fail=opened.mode["fail"])
        store.uri, store.auth = uri, auth
        opened.append(store)
        return store

    monkeypatch.setattr(Neo4jStore, "connect", classmethod(connect))
    monkeypatch.setattr(kgqa, "evaluate_kgqa", fake_evaluate_kgqa)
    return opened


def fake_evaluate_kgqa(kb, questions, limit=None, progress=False, store=None, llm=None, baseline=None):
    """Loads the KB into the store as the real one does, without loading retrieval models."""
    from kgllm.loaders import read_kb_tsv

    assert store is not None and llm is None
    n = sum(1 for _ in open(questions, encoding="utf-8"))      # a missing file raises as the real one would
    store.upsert(read_kb_tsv(kb))
    return {"n": n, "hits@1": 1.0, "path_recall": 1.0}


def _files(tmp_path):
    (tmp_path / "kb.tsv").write_text(KB, encoding="utf-8")
    (tmp_path / "bad.tsv").write_text("a\tb\tc\njust two\tcolumns\n", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text(QUESTIONS, encoding="utf-8")
    result = runner.invoke(app, ["import-kb", str(tmp_path / "kb.tsv"), "--graph", str(tmp_path / "g.json")])
    assert result.exit_code == 0, result.output
    return tmp_path


NEO = ["--store", "neo4j", "--uri", "bolt://fake:7687", "--password", "secret-pw"]

# (argv, exit status on a healthy store); {d} is the test's folder
SUCCEEDING = [
    (["stats", "--json", *NEO], 0),
    (["import-kb", "{d}/kb.tsv", *NEO], 0),
    (["query", "MATCH (a)-[r]->(b) RETURN a.name", "--json", *NEO], 0),
    (["ask", "where was mira born?", "--no-llm", "--json", *NEO], 0),
    (["export", "--to", "{d}/out.json", *NEO[2:]], 0),
    (["import", "{d}/g.json", *NEO[2:]], 0),
    (["eval", "kgqa", "{d}/q.jsonl", "--kb", "{d}/kb.tsv", "--json", *NEO], 0),
]
# commands that fail with bad input after the store is open
BAD_INPUT = [
    (["import-kb", "{d}/bad.tsv", *NEO], 2, "bad.tsv:2"),
    (["query", "CREATE (n) RETURN n", *NEO], 2, "read-only"),
    (["build", "{d}/missing.txt", *NEO], 2, "missing.txt"),
]


def _run(argv, d):
    return runner.invoke(app, [a.replace("{d}", str(d)) for a in argv])


@pytest.mark.parametrize("argv,status", SUCCEEDING, ids=[" ".join(a[:2]) for a, _ in SUCCEEDING])
def test_store_closed_once_on_success(neo4j, tmp_path, argv, status):
    d = _files(tmp_path)
    result = _run(argv, d)
    assert result.exit_code == status, result.output
    assert [s.closed for s in neo4j] == [1]
    assert neo4j[0].uri == "bolt://fake:7687" and neo4j[0].auth == ("neo4j", "secret-pw")


@pytest.mark.parametrize("argv,status,says", BAD_INPUT, ids=[" ".join(a[:2]) for a, _, _ in BAD_INPUT])
def test_store_closed_once_on_bad_input(neo4j, tmp_path, argv, status, says):
    d = _files(tmp_path)
    result = _run(argv, d)
    assert result.exit_code == status and says in result.stderr, result.output
    assert [s.closed for s in neo4j] == [1]


@pytest.mark.parametrize("argv,status", SUCCEEDING, ids=[" ".join(a[:2]) for a, _ in SUCCEEDING])
def test_store_closed_once_when_the_server_fails(neo4j, tmp_path, argv, status):
    d = _files(tmp_path)
    neo4j.mode["fail"] = True
    result = _run(argv, d)
    assert result.exit_code == 1, result.output
    assert "the server went away" in result.stderr
    assert [s.closed for s in neo4j] == [1]


def test_unreachable_server_is_one_line_and_status_1(monkeypatch):
    def connect(cls, uri, auth=None, **kwargs):
        raise StoreError(f"cannot connect to Neo4j at {uri}")

    monkeypatch.setattr(Neo4jStore, "connect", classmethod(connect))
    result = runner.invoke(app, ["stats", "--store", "neo4j", "--uri", "bolt://nowhere:7687"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: cannot connect to Neo4j at bolt://nowhere:7687"


def test_import_then_export_round_trips_through_the_server(neo4j, tmp_path):
    d = _files(tmp_path)
    assert _run(["import", "{d}/g.json", *NEO[2:]], d).exit_code == 0
    assert _run(["export", "--to", "{d}/out.json", *NEO[2:]], d).exit_code == 0
    assert [s.closed for s in neo4j] == [1, 1]
    assert MemoryStore.load(d / "out.json").to_dict() == MemoryStore.load(d / "g.json").to_dict()
    result = _run(["import", "{d}/g.json", *NEO[2:]], d)        # the database is no longer empty
    assert result.exit_code == 2 and "not empty" in result.stderr
    assert [s.closed for s in neo4j] == [1, 1, 1]


class _Closing:
    def __init__(self, fail_on_close: bool) -> None:
        self.closed = 0
        self.fail_on_close = fail_on_close

    def close(self) -> None:
        self.closed += 1
        if self.fail_on_close:
            raise StoreError("close failed")


def test_open_store_closes_on_error_and_keeps_the_first_error(monkeypatch):
    import kgllm.cli.common as common

    store = _Closing(fail_on_close=True)
    monkeypatch.setattr(common, "_connect", lambda spec, create: store)
    with pytest.raises(ValueError, match="the real problem"):
        with open_store(StoreSpec(kind="neo4j")):
            raise ValueError("the real problem")
    assert store.closed == 1
    with pytest.raises(StoreError, match="close failed"):   # on success a failing close is reported
        with open_store(StoreSpec(kind="neo4j")):
            pass
    assert store.closed == 2


def test_neo4j_server_commands(monkeypatch, tmp_path):
    """`kgllm neo4j start|status|stop` over a fake launcher: what they print, and a launcher error as one line."""
    import kgllm.neo4j_server as launcher
    from kgllm.errors import ConfigError

    running: dict = {}

    def start(data, port=7687, password=None):
        if port == 1:
            raise ConfigError("Java 17 and Maven are needed to build the Neo4j server")
        running[str(data)] = (4242, f"bolt://127.0.0.1:{port}")
        return running[str(data)]

    monkeypatch.setattr(launcher, "start_background", start)
    monkeypatch.setattr(launcher, "background_status", lambda data: running.get(str(data)))
    monkeypatch.setattr(launcher, "stop_background", lambda data: running.pop(str(data), None) is not None)
    data = str(tmp_path / "neo")
    started = runner.invoke(app, ["neo4j", "start", "--data", data, "--port", "7700"])
    assert started.exit_code == 0
    assert started.stdout.strip() == (f"neo4j running (pid 4242) at bolt://127.0.0.1:7700; data in {data}; "
                                      f"stop with `kgllm neo4j stop --data {data}`")
    status = runner.invoke(app, ["neo4j", "status", "--data", data]).stdout
    assert status == "running (pid 4242) at bolt://127.0.0.1:7700\n"
    assert runner.invoke(app, ["neo4j", "stop", "--data", data]).stdout == "neo4j stopped\n"
    assert runner.invoke(app, ["neo4j", "status", "--data", data]).stdout == "not running\n"
    assert runner.invoke(app, ["neo4j", "stop", "--data", data]).stdout == f"no neo4j server was running for {data}\n"
    failed = runner.invoke(app, ["neo4j", "start", "--data", data, "--port", "1"])
    assert failed.exit_code == 1
    assert failed.stderr == "error: Java 17 and Maven are needed to build the Neo4j server\n"
