"""A :class:`~kgllm.lm.base.Generator` for any OpenAI-compatible server, over httpx.

One pooled :class:`httpx.Client` per instance; the conversations of one ``chat`` call are sent
concurrently, so a batching server (``kgllm serve-llm``, vLLM, llama.cpp's server) runs them
together. Streams are server-sent events, parsed line by line.

Examples
--------
>>> client = OpenAIClient("http://127.0.0.1:8000")      # no I/O until the first call
>>> client.base_url
'http://127.0.0.1:8000/v1'
>>> list(_sse_data(["data: {}", "", ": a comment", "data: [DONE]", ""]))
['{}', '[DONE]']
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Iterable, Iterator, Sequence

import httpx

from kgllm.errors import ConfigError, GenerationError, InputError
from kgllm.lm.base import Message, check_conversation
from kgllm.progress import progress as progress_bar

__all__ = ["OpenAIClient"]


def _sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data of each server-sent event (``data:`` lines joined; comments and other fields skipped)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
    if data:
        yield "\n".join(data)


class OpenAIClient:
    """Chat completions from ``base_url`` (with or without the trailing ``/v1``); greedy by default.

    Parameters
    ----------
    base_url : str
        ``http(s)://host:port`` or ``.../v1`` of the server.
    model : str
        Model name sent with each request.
    api_key : str, optional
        Sent as ``Authorization: Bearer <api_key>``.
    timeout : float
        Seconds allowed for connecting and between bytes of an answer.
    max_concurrency : int
        Most requests in flight at once (and pooled connections).
    temperature : float
        Sampling temperature (0: greedy).
    progress : bool
        Show a progress bar on stderr counting finished conversations when a call has more than one.
    """

    def __init__(self, base_url: str, model: str = "kgllm-engine", api_key: str | None = None,
                 timeout: float = 120.0, max_concurrency: int = 16, temperature: float = 0.0,
                 progress: bool = False) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if timeout <= 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout}")
        base = base_url.rstrip("/")
        self.base_url = base if base.endswith("/v1") else base + "/v1"
        self.model, self.api_key, self.timeout = model, api_key, timeout
        self.max_concurrency, self.temperature, self.progress = max_concurrency, temperature, progress
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        """The pooled HTTP client, created on first use."""
        with self._lock:
            if self._http is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                limits = httpx.Limits(max_connections=self.max_concurrency,
                                      max_keepalive_connections=self.max_concurrency)
                self._http = httpx.Client(base_url=self.base_url, headers=headers, limits=limits,
                                          timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)))
            return self._http

    def close(self) -> None:
        """Close the pooled connections (the client opens new ones if used again)."""
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def __enter__(self) -> "OpenAIClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- HTTP
    def _check(self, resp: httpx.Response) -> None:
        if resp.status_code < 400:
            return
        try:
            message = resp.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = resp.text[:200] or resp.reason_phrase
        if resp.status_code < 500:
            raise InputError(f"server rejected the request ({resp.status_code}): {message}")
        raise GenerationError(f"server error ({resp.status_code}): {message}")

    def _transport_error(self, exc: httpx.HTTPError) -> GenerationError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return GenerationError(f"no answer from {self.base_url} within {self.timeout} s: {exc}")
        return GenerationError(f"cannot reach {self.base_url}: {type(exc).__name__}: {exc}")

    def _body(self, conversation: Sequence[Message], max_new_tokens: int, stream: bool) -> dict[str, Any]:
        check_conversation(conversation)
        return {"model": self.model, "messages": list(conversation), "max_tokens": max_new_tokens,
                "temperature": self.temperature, "stream": stream}

    def _one(self, conversation: Sequence[Message], max_new_tokens: int) -> str:
        try:
            resp = self.http.post("/chat/completions", json=self._body(conversation, max_new_tokens, False))
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        self._check(resp)
        try:
            return resp.json()["choices"][0]["message"]["content"].strip()
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GenerationError(f"unexpected response from {self.base_url}: {resp.text[:200]}") from exc

    # ------------------------------------------------------------ Generator
    def chat(self, conversations: Sequence[Sequence[Message]], max_new_tokens: int = 48) -> list[str]:
        """Completions for chat conversations (sent concurrently, returned in order).

        Raises
        ------
        InputError
            A conversation is empty, or the server refused a request (4xx).
        GenerationError
            The server failed (5xx), answered nonsense, or cannot be reached.
        """
        for conv in conversations:
            self._body(conv, max_new_tokens, False)      # validate all before sending any
        if len(conversations) <= 1:
            return [self._one(c, max_new_tokens) for c in conversations]
        texts = [""] * len(conversations)
        with ThreadPoolExecutor(min(self.max_concurrency, len(conversations))) as pool:
            futures = {pool.submit(self._one, c, max_new_tokens): i for i, c in enumerate(conversations)}
            try:
                for fut in progress_bar(as_completed(futures), "generating", total=len(futures),
                                        enabled=self.progress):
                    texts[futures[fut]] = fut.result()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        return texts

    def stream_chat(self, conversation: Sequence[Message], max_new_tokens: int = 48) -> Iterator[str]:
        """Text deltas of one chat completion, read from the server-sent event stream."""
        body = self._body(conversation, max_new_tokens, True)
        try:
            with self.http.stream("POST", "/chat/completions", json=body) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._check(resp)
                for data in _sse_data(resp.iter_lines()):
                    if data == "[DONE]":
                        return
                    piece = self._delta(data)
                    if piece:
                        yield piece
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        raise GenerationError(f"the stream from {self.base_url} ended without [DONE]")

    def _delta(self, data: str) -> str | None:
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise GenerationError(f"bad event from {self.base_url}: {data[:200]!r}") from exc
        if not isinstance(event, dict):
            raise GenerationError(f"unexpected event from {self.base_url}: {data[:200]!r}")
        if "error" in event:
            raise GenerationError(f"server error while streaming: {event['error'].get('message')}")
        try:
            return event["choices"][0].get("delta", {}).get("content")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise GenerationError(f"unexpected event from {self.base_url}: {data[:200]!r}") from exc
