"""kgllm.lm: resolve_llm, the httpx OpenAI client against a real loopback server (fake model), progress."""

from __future__ import annotations

import pytest

import kgllm.lm.local
import kgllm.lm.openai
from kgllm.errors import ConfigError, GenerationError, InputError
from kgllm.lm import Generator, LocalLM, OpenAIClient, StreamingGenerator, resolve_llm
from kgllm.server.llm import EngineServer
from tests.unit.fake_engine import idle, make_engine

CONVS = [[{"role": "user", "content": text}] for text in ("Name a river.", "Count to three.", "Say hi.")]


@pytest.fixture
def server():
    srv = EngineServer(make_engine(poison="explode"), port=0, api_key="k3y").start()
    yield srv
    srv.stop()


class Recorder:
    """Stands in for kgllm.progress.progress: records how it was asked to show a bar."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None, bool, int]] = []

    def __call__(self, items, label, total=None, enabled=True):
        seen = 0
        for item in items:
            seen += 1
            yield item
        self.calls.append((label, total, enabled, seen))


def test_resolve_llm_choices(tmp_path):
    assert resolve_llm(None) is None
    client = OpenAIClient("http://127.0.0.1:1")
    assert resolve_llm(client) is client
    assert isinstance(resolve_llm("auto"), LocalLM) and resolve_llm("auto", progress=True).progress
    remote = resolve_llm("https://example.org/v1/", model="m", api_key="k", progress=True)
    assert isinstance(remote, OpenAIClient)
    assert (remote.base_url, remote.model, remote.api_key, remote.progress) == ("https://example.org/v1", "m", "k", True)
    (tmp_path / "my-model").mkdir()
    assert resolve_llm(tmp_path / "my-model").model_name == "my-model"
    assert resolve_llm(str(tmp_path / "my-model")).model_name == "my-model"
    with pytest.raises(ConfigError, match="no such path"):
        resolve_llm("some-hosted-model")
    with pytest.raises(ConfigError, match="got int"):
        resolve_llm(42)
    assert isinstance(client, StreamingGenerator) and isinstance(LocalLM(), Generator)


def test_client_config_errors():
    with pytest.raises(ConfigError, match="http:// or https://"):
        OpenAIClient("localhost:8000")
    with pytest.raises(ConfigError, match="max_concurrency"):
        OpenAIClient("http://127.0.0.1:8000", max_concurrency=0)
    with pytest.raises(ConfigError, match="timeout"):
        OpenAIClient("http://127.0.0.1:8000", timeout=0)


def test_client_chat_concurrent_in_order_and_stream(server):
    with OpenAIClient(server.url, api_key="k3y") as client:
        assert client.chat(CONVS, max_new_tokens=5) == ["Name", "Count", "Say h"]
        assert client.chat([], max_new_tokens=5) == []
        assert list(client.stream_chat(CONVS[0], max_new_tokens=5)) == ["N", "a", "m", "e", " "]
    assert idle(server.engine)


def test_client_maps_http_failures_to_kgllm_errors(server):
    with OpenAIClient(server.url, api_key="k3y") as client, OpenAIClient(server.url) as anonymous, \
            OpenAIClient(server.url, api_key="nope") as wrong:
        with pytest.raises(InputError, match="empty prompt"):
            client.chat([CONVS[0], [{"role": "user", "content": "  "}]])
        with pytest.raises(InputError, match=r"rejected the request \(400\): max_tokens must be an int >= 1"):
            client.chat([CONVS[0]], max_new_tokens=0)
        with pytest.raises(InputError, match=r"\(401\): missing or wrong API key"):
            anonymous.chat([CONVS[0]])
        with pytest.raises(InputError, match=r"\(401\)"):
            list(wrong.stream_chat(CONVS[0]))
        boom = [{"role": "user", "content": "explode"}]
        with pytest.raises(GenerationError, match=r"server error \(500\): .*injected model failure"):
            client.chat([boom, CONVS[0]])
        with pytest.raises(GenerationError, match="server error while streaming: .*injected model failure"):
            list(client.stream_chat(boom))
        assert client.chat([CONVS[2]], max_new_tokens=3) == ["Say"]


def test_client_cannot_reach_a_closed_port():
    with OpenAIClient("http://127.0.0.1:9", timeout=2) as client:
        with pytest.raises(GenerationError, match="cannot reach http://127.0.0.1:9/v1"):
            client.chat([CONVS[0]])
        with pytest.raises(GenerationError, match="cannot reach"):
            list(client.stream_chat(CONVS[0]))


def test_progress_flag_counts_finished_conversations(server, monkeypatch):
    bars = Recorder()
    monkeypatch.setattr(kgllm.lm.openai, "progress_bar", bars)
    monkeypatch.setattr(kgllm.lm.local, "progress_bar", bars)
    for progress in (True, False):
        with OpenAIClient(server.url, api_key="k3y", progress=progress) as client:
            client.chat(CONVS, max_new_tokens=2)
    assert bars.calls == [("generating", 3, True, 3), ("generating", 3, False, 3)]
    bars.calls.clear()
    lm = LocalLM(progress=True)
    lm._engine = make_engine()
    assert lm.chat(CONVS, max_new_tokens=4) == ["Name", "Coun", "Say"]
    assert lm.chat(CONVS[:1], max_new_tokens=4) == ["Name"]
    assert LocalLM.count_tokens(lm, "four") == 4
    assert bars.calls == [("generating", 3, True, 3), ("generating", 1, False, 1)]
    assert idle(lm.engine)


def test_local_lm_streams_and_refuses_empty_conversations():
    lm = LocalLM()
    lm._engine = make_engine()
    assert "".join(lm.stream_chat(CONVS[2], max_new_tokens=3)) == "Say"
    with pytest.raises(InputError, match="empty prompt"):
        lm.chat([CONVS[0], []])
    with pytest.raises(ConfigError, match="threads"):
        LocalLM(threads=0)
    assert idle(lm.engine)
