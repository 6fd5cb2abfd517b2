"""A :class:`kgllm.reason.llm.Generator` that talks to any OpenAI-compatible server (urllib only).

Conversations of one ``chat`` call are sent concurrently, so a batching server (such as
:class:`kgllm.engine.server.EngineServer`, vLLM or llama.cpp's server) runs them together.

Examples
--------
>>> client = OpenAIClient("http://127.0.0.1:8000")      # no I/O until the first call
>>> client.base_url
'http://127.0.0.1:8000/v1'
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Sequence

from kgllm.errors import ConfigError, GenerationError, InputError
from kgllm.reason.llm import check_conversation

__all__ = ["OpenAIClient"]

Message = dict[str, str]


class OpenAIClient:
    """Chat completions from ``base_url`` (with or without the trailing ``/v1``); greedy by default."""

    def __init__(self, base_url: str, model: str = "kgllm-engine", api_key: str | None = None,
                 timeout: float = 120.0, max_concurrency: int = 16, temperature: float = 0.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be >= 1, got {max_concurrency}")
        base = base_url.rstrip("/")
        self.base_url = base if base.endswith("/v1") else base + "/v1"
        self.model, self.api_key, self.timeout = model, api_key, timeout
        self.max_concurrency, self.temperature = max_concurrency, temperature

    def _request(self, path: str, body: dict):
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(), headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", {}).get("message", exc.reason)
            except ValueError:
                message = exc.reason
            if 400 <= exc.code < 500:
                raise InputError(f"server rejected the request ({exc.code}): {message}") from exc
            raise GenerationError(f"server error ({exc.code}): {message}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GenerationError(f"cannot reach {self.base_url}: {exc}") from exc

    def _body(self, conversation: Sequence[Message], max_new_tokens: int, stream: bool) -> dict:
        check_conversation(conversation)
        return {"model": self.model, "messages": list(conversation), "max_tokens": max_new_tokens,
                "temperature": self.temperature, "stream": stream}

    def _one(self, conversation: Sequence[Message], max_new_tokens: int) -> str:
        with self._request("/chat/completions", self._body(conversation, max_new_tokens, False)) as resp:
            data = json.loads(resp.read())
        try:
            return data["choices"][0]["message"]["content"].strip()
        except (KeyError, IndexError, TypeError) as exc:
            raise GenerationError(f"unexpected response from {self.base_url}: {str(data)[:200]}") from exc

    def chat(self, conversations: Sequence[Sequence[Message]], max_new_tokens: int = 48) -> list[str]:
        """Completions for chat conversations (sent concurrently, returned in order)."""
        for conv in conversations:
            self._body(conv, max_new_tokens, False)      # validate all before sending any
        if len(conversations) <= 1:
            return [self._one(c, max_new_tokens) for c in conversations]
        with ThreadPoolExecutor(min(self.max_concurrency, len(conversations))) as pool:
            return list(pool.map(lambda c: self._one(c, max_new_tokens), conversations))

    def stream_chat(self, conversation: Sequence[Message], max_new_tokens: int = 48) -> Iterator[str]:
        """Text deltas of one chat completion, read from the server-sent event stream."""
        with self._request("/chat/completions", self._body(conversation, max_new_tokens, True)) as resp:
            for raw in resp:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if "error" in event:
                    raise GenerationError(f"server error while streaming: {event['error'].get('message')}")
                piece = event["choices"][0].get("delta", {}).get("content")
                if piece:
                    yield piece
