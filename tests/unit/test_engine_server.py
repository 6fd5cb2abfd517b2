"""The OpenAI-compatible server and client, over real HTTP on 127.0.0.1 with the real model."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from kgllm.engine import Engine, SamplingParams
from kgllm.engine.openai_client import OpenAIClient
from kgllm.engine.server import EngineServer
from kgllm.errors import ConfigError, GenerationError, InputError

pytestmark = pytest.mark.slow

CONVS = [[{"role": "user", "content": q}] for q in
         ("What is the capital of France?", "Name a colour.", "Say hello in Spanish.")]


@pytest.fixture(scope="module")
def hf():
    import torch

    from kgllm.engine.models import load_hf_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_hf_model(None, "cpu", "float32")
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def server(hf):
    srv = EngineServer(Engine.from_model(*hf, kv_budget_mb=32), port=0).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def direct(hf):
    return Engine.from_model(*hf, kv_budget_mb=32)


def _post(url: str, body: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_models_health_and_unknown_path(server):
    with urllib.request.urlopen(server.url + "/v1/models") as resp:
        assert json.loads(resp.read())["data"][0]["id"] == "kgllm-engine"
    with urllib.request.urlopen(server.url + "/health") as resp:
        assert json.loads(resp.read()) == {"status": "ok"}
    code, _ = _post(server.url + "/v1/nope", {})
    assert code == 404


def test_completions_plain_and_streamed(server, direct):
    prompt = "The capital of France is"
    want = direct.generate([prompt], SamplingParams(max_tokens=6))[0]
    code, raw = _post(server.url + "/v1/completions", {"prompt": prompt, "max_tokens": 6})
    data = json.loads(raw)
    assert code == 200 and data["choices"][0]["text"] == want.text
    assert data["usage"]["completion_tokens"] == len(want.token_ids)
    code, raw = _post(server.url + "/v1/completions", {"prompt": prompt, "max_tokens": 6, "stream": True})
    events = [line[6:] for line in raw.decode().split("\n\n") if line.startswith("data: ")]
    assert code == 200 and events[-1] == "[DONE]"
    assert "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1]) == want.text


def test_bad_requests_are_400_and_server_keeps_serving(server):
    for body in ({"prompt": "", "max_tokens": 4}, {"prompt": "hi", "max_tokens": 0},
                 {"prompt": "hi", "temperature": -1}, {"prompt": 3}, {"messages": []}):
        path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
        code, raw = _post(server.url + path, body)
        assert code == 400 and json.loads(raw)["error"]["message"], body
    code, _ = _post(server.url + "/v1/completions", {"prompt": "Hello", "max_tokens": 2})
    assert code == 200


def test_openai_client_chat_concurrent_and_stream(server, direct):
    prompts = [direct.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in CONVS]
    want = [o.text.strip() for o in direct.generate(prompts, SamplingParams(max_tokens=8))]
    client = OpenAIClient(server.url)
    assert client.chat(CONVS, max_new_tokens=8) == want
    assert "".join(client.stream_chat(CONVS[0], max_new_tokens=8)).strip() == want[0]
    with pytest.raises(InputError):
        client.chat([[{"role": "user", "content": "  "}]])
    with pytest.raises(InputError, match="400"):
        client.chat([CONVS[0]], max_new_tokens=0)


def test_openai_client_errors():
    with pytest.raises(ConfigError):
        OpenAIClient("localhost:8000")
    with pytest.raises(GenerationError, match="cannot reach"):
        OpenAIClient("http://127.0.0.1:9", timeout=2).chat([CONVS[0]])
