"""The OpenAI-compatible server over real HTTP on 127.0.0.1: formats and failure paths on a fake model
(tests/unit/fake_engine.py), and answers equal to the in-process engine on the real model (slow)."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from kgllm.engine import Engine, SamplingParams
from kgllm.errors import GenerationError
from kgllm.server.llm import EngineServer
from tests.unit.fake_engine import idle, make_engine


@pytest.fixture
def serve():
    servers = []

    def start(engine=None, **kwargs) -> EngineServer:
        servers.append(EngineServer(engine or make_engine(), port=0, **kwargs).start())
        return servers[-1]

    yield start
    for srv in servers:
        srv.stop()


def _post(url: str, body, **kwargs) -> tuple[int, dict | bytes]:
    resp = httpx.post(url, json=body, timeout=30, **kwargs)
    try:
        return resp.status_code, resp.json()
    except ValueError:
        return resp.status_code, resp.content


def _events(raw: bytes) -> list[str]:
    return [line[6:] for line in raw.decode().split("\n\n") if line.startswith("data: ")]


def _wait_idle(engine: Engine, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if idle(engine):
            return True
        time.sleep(0.02)
    return False


def test_models_health_and_unknown_path(serve):
    srv = serve()
    assert srv.url == f"http://127.0.0.1:{srv.port}" and srv.port > 0
    assert httpx.get(srv.url + "/v1/models").json()["data"] == [
        {"id": "kgllm-engine", "object": "model", "owned_by": "kgllm"}]
    assert httpx.get(srv.url + "/health").json() == {"status": "ok"}
    code, data = _post(srv.url + "/v1/nope", {})
    assert code == 404 and data["error"]["code"] == 404


def test_completions_and_chat_plain_and_streamed(serve):
    srv = serve()
    code, data = _post(srv.url + "/v1/completions", {"prompt": "hello there", "max_tokens": 4, "user": "x"})
    assert code == 200 and data["object"] == "text_completion" and data["id"].startswith("cmpl-")
    assert data["choices"] == [{"index": 0, "text": "hell", "finish_reason": "length"}]
    assert data["usage"] == {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    code, raw = _post(srv.url + "/v1/completions", {"prompt": ["hello"], "max_tokens": 4, "stream": True})
    events = _events(raw)
    assert code == 200 and events[-1] == "[DONE]"
    assert [json.loads(e)["choices"][0]["text"] for e in events[:-1]] == ["h", "e", "l", "l"]
    chat = {"messages": [{"role": "user", "content": "Say hi."}], "max_completion_tokens": 6}
    code, data = _post(srv.url + "/v1/chat/completions", chat)
    assert code == 200 and data["choices"][0]["message"] == {"role": "assistant", "content": "Say hi"}
    code, raw = _post(srv.url + "/v1/chat/completions", {**chat, "stream": True})
    chunks = [json.loads(e) for e in _events(raw)[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Say hi"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_bad_requests_are_400_with_a_message_and_the_server_keeps_serving(serve):
    srv = serve()
    bodies = {"/v1/completions": [{"prompt": "", "max_tokens": 4}, {"prompt": "hi", "max_tokens": 0},
                                  {"prompt": "hi", "temperature": -1}, {"prompt": 3}, {"max_tokens": 2},
                                  {"prompt": ["a", "b"]}, {"prompt": "hi", "n": 2}, [1, 2]],
              "/v1/chat/completions": [{"messages": []}, {"messages": [{"role": "user"}]}]}
    for path, cases in bodies.items():
        for body in cases:
            code, data = _post(srv.url + path, body)
            assert code == 400 and data["error"]["message"], (path, body, data)
    resp = httpx.post(srv.url + "/v1/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "invalid request" in resp.json()["error"]["message"]
    code, data = _post(srv.url + "/v1/completions", {"prompt": "Hello", "max_tokens": 2})
    assert code == 200 and data["choices"][0]["text"] == "He"


def test_body_size_limit_is_413_with_or_without_content_length(serve):
    srv = serve(max_body_bytes=300)
    code, data = _post(srv.url + "/v1/completions", {"prompt": "x" * 400})
    assert code == 413 and data["error"]["type"] == "request_too_large"
    chunked = httpx.post(srv.url + "/v1/completions", content=iter([b'{"prompt": "', b"y" * 400, b'"}']))
    assert chunked.status_code == 413
    assert _post(srv.url + "/v1/completions", {"prompt": "small", "max_tokens": 2})[0] == 200


def test_bearer_token_is_required_on_the_api_when_set(serve):
    srv = serve(api_key="open-sesame")
    body = {"prompt": "hello", "max_tokens": 2}
    assert _post(srv.url + "/v1/completions", body)[0] == 401
    code, data = _post(srv.url + "/v1/completions", body, headers={"Authorization": "Bearer wrong"})
    assert code == 401 and data["error"]["type"] == "authentication_error"
    assert _post(srv.url + "/v1/completions", body, headers={"Authorization": "Bearer open-sesame"})[0] == 200
    assert httpx.get(srv.url + "/v1/models").status_code == 401
    assert httpx.get(srv.url + "/health").status_code == 200


def test_a_failing_step_fails_only_its_requests_and_later_ones_succeed(serve):
    engine = make_engine(poison="crash")
    srv = serve(engine)
    code, data = _post(srv.url + "/v1/completions", {"prompt": "crash", "max_tokens": 3})
    assert code == 500 and "injected model failure" in data["error"]["message"]
    code, raw = _post(srv.url + "/v1/completions", {"prompt": "crash again", "max_tokens": 3, "stream": True})
    assert "injected model failure" in json.loads(_events(raw)[0])["error"]["message"]
    for prompt in ("one", "two"):
        code, data = _post(srv.url + "/v1/completions", {"prompt": prompt, "max_tokens": 3})
        assert code == 200 and data["choices"][0]["text"] == prompt
    assert idle(engine)


def test_an_engine_whose_step_raises_has_its_requests_aborted(serve):
    class BrokenOnce(Engine):
        broken = True

        def step(self):
            if self.broken and self.has_unfinished():
                BrokenOnce.broken = False
                raise RuntimeError("step broke without cleaning up")
            return super().step()

    engine = make_engine(engine_cls=BrokenOnce)
    srv = serve(engine)
    code, data = _post(srv.url + "/v1/completions", {"prompt": "first", "max_tokens": 3})
    assert code == 500 and "step broke" in data["error"]["message"]
    code, data = _post(srv.url + "/v1/completions", {"prompt": "second", "max_tokens": 3})
    assert code == 200 and data["choices"][0]["text"] == "sec" and idle(engine)


def test_exceptions_while_handling_a_request_do_not_kill_the_engine_thread(serve):
    class Fragile(Engine):
        def add_request(self, prompt, params=None, request_id=None):
            if "boom" in str(prompt):
                raise RuntimeError("add_request blew up")
            return super().add_request(prompt, params, request_id)

        def abort(self, request_id):
            super().abort(request_id)
            raise RuntimeError("abort blew up")

    srv = serve(make_engine(engine_cls=Fragile))
    code, data = _post(srv.url + "/v1/completions", {"prompt": "boom", "max_tokens": 2})
    assert code == 500 and "add_request blew up" in data["error"]["message"]
    code, data = _post(srv.url + "/v1/chat/completions", {"messages": [{"role": "user", "content": "boom"}]})
    assert code == 500
    for _ in range(2):     # every finished request is aborted (a no-op) and that abort raises
        code, data = _post(srv.url + "/v1/completions", {"prompt": "still here", "max_tokens": 5})
        assert code == 200 and data["choices"][0]["text"] == "still"
    assert srv.loop.alive
    rid, outs = srv.submit("direct", SamplingParams(max_tokens=2))
    while not (out := srv.loop.wait(outs)).finished:
        pass
    assert out.text == "di"


def test_submit_never_blocks_once_the_engine_thread_is_gone(serve):
    srv = serve()
    srv.loop.stop()
    start = time.monotonic()
    with pytest.raises(GenerationError, match="not running"):
        srv.submit("hello", SamplingParams(max_tokens=2))
    assert time.monotonic() - start < 3
    assert httpx.get(srv.url + "/health").json() == {"status": "engine stopped"}


def test_a_client_that_disconnects_mid_stream_is_aborted(serve):
    engine = make_engine(num_blocks=256, delay=0.02)     # 400 tokens would take 8 s
    srv = serve(engine)
    with httpx.stream("POST", srv.url + "/v1/completions",
                      json={"prompt": "a long story", "max_tokens": 400, "stream": True}) as resp:
        lines = resp.iter_lines()
        assert next(lines).startswith("data: ")
    assert _wait_idle(engine), "the request kept running after its client left"
    assert engine.runner.steps < 200


def test_a_client_that_disconnects_before_a_plain_answer_is_aborted(serve):
    engine = make_engine(num_blocks=256, delay=0.02)
    srv = serve(engine)
    body = json.dumps({"prompt": "a long story", "max_tokens": 400}).encode()
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        deadline = time.monotonic() + 5
        while engine.runner.steps < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert _wait_idle(engine), "the request kept running after its client left"
    assert engine.runner.steps < 200


def test_port_in_use_raises_oserror(serve):
    srv = serve()
    with pytest.raises(OSError):
        EngineServer(make_engine(), port=srv.port).start()


# ------------------------------------------------------------------------------- real model (slow)
@pytest.fixture(scope="module")
def hf():
    import torch

    from kgllm.engine.loading import load_hf_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_hf_model(None, "cpu", "float32")
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_real_model_answers_over_http_equal_the_engine_in_process(hf):
    from kgllm.lm import OpenAIClient

    direct = Engine.from_model(*hf, kv_budget_mb=32)
    srv = EngineServer(Engine.from_model(*hf, kv_budget_mb=32), port=0).start()
    try:
        prompt = "The capital of France is"
        want = direct.generate([prompt], SamplingParams(max_tokens=6))[0]
        code, data = _post(srv.url + "/v1/completions", {"prompt": prompt, "max_tokens": 6})
        assert code == 200 and data["choices"][0]["text"] == want.text
        assert data["usage"]["completion_tokens"] == len(want.token_ids)
        code, raw = _post(srv.url + "/v1/completions", {"prompt": prompt, "max_tokens": 6, "stream": True})
        assert "".join(json.loads(e)["choices"][0]["text"] for e in _events(raw)[:-1]) == want.text
        convs = [[{"role": "user", "content": q}] for q in
                 ("What is the capital of France?", "Name a colour.", "Say hello in Spanish.")]
        prompts = [direct.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
                   for c in convs]
        texts = [o.text.strip() for o in direct.generate(prompts, SamplingParams(max_tokens=8))]
        client = OpenAIClient(srv.url)
        assert client.chat(convs, max_new_tokens=8) == texts
        assert "".join(client.stream_chat(convs[0], max_new_tokens=8)).strip() == texts[0]
    finally:
        srv.stop()
