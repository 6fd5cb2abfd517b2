"""Request bodies and limits of the explorer API (pydantic models; bad ones get a clear ``422``).

Examples
--------
>>> QueryRequest(cypher="MATCH (a) RETURN a.name", limit=5).limit
5
>>> ExplorerConfig(max_rows=0)
Traceback (most recent call last):
...
kgllm.errors.ConfigError: ExplorerConfig.max_rows must be >= 1, got 0
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from kgllm.errors import ConfigError

__all__ = ["ExplorerConfig", "QueryRequest", "AskRequest", "ParamValue"]

ParamValue = Union[StrictBool, StrictInt, StrictFloat, StrictStr]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
"""The host names of a server listening on the loopback interface."""

MAX_QUERY_ROWS = 10_000
"""The largest ``limit`` a Cypher request may ask for (the server's ``max_rows`` may lower it)."""


@dataclass(frozen=True)
class ExplorerConfig:
    """Limits of one explorer server.

    ``max_rows``: rows a Cypher query returns at most (larger ``limit`` values are lowered to it).
    ``query_timeout`` / ``ask_timeout`` / ``request_timeout``: seconds a Cypher query, a question, or any
    other request may take before the client gets ``408``. ``query_concurrency`` / ``ask_concurrency``:
    Cypher queries and questions admitted at once (more wait their turn, up to ``queue_timeout`` s, then
    ``429``): a bounded pool of workers answering questions together.
    ``max_body_bytes``: largest request body (``413`` beyond). ``max_subgraph_facts``: facts of the
    subgraph an answer returns. ``check_interval``: seconds between two looks at the graph file's time.
    ``warm_reasoner``: prepare the reasoner's indexes and models before the first question (in the
    background; a large graph's first question would otherwise wait for them). ``hosts``: the host names
    (``Host`` header, port aside) requests may be addressed to: the names the server listens on and any the
    user allows; ``0.0.0.0`` or ``::`` accepts any IP address as well (every request for another name is
    refused: DNS rebinding protection).
    """

    max_rows: int = 1000
    query_timeout: float = 10.0
    ask_timeout: float = 60.0
    request_timeout: float = 15.0
    query_concurrency: int = 4
    ask_concurrency: int = 4
    queue_timeout: float = 60.0
    max_body_bytes: int = 65536
    max_subgraph_facts: int = 300
    check_interval: float = 0.5
    warm_reasoner: bool = True
    hosts: tuple[str, ...] = LOOPBACK_NAMES
    #: Conversations (``/api/chat``): seconds one is kept after its last turn, how many are kept at once (the
    #: least recently used is forgotten beyond), and the turns one may hold (a longer history: ``413``).
    chat_ttl: float = 3600.0
    max_conversations: int = 1000
    max_turns: int = 50

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (bool, tuple)):
                continue
            if not value >= (1 if isinstance(value, int) else 0.001):
                raise ConfigError(f"ExplorerConfig.{f.name} must be >= 1, got {value}" if isinstance(value, int)
                                  else f"ExplorerConfig.{f.name} must be > 0, got {value}")


class QueryRequest(BaseModel):
    """Body of ``POST /api/query``: one read-only Cypher statement, its ``$parameters``, a row limit."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"cypher": "MATCH (a)-[r]->(b) WHERE a.name = $name RETURN r.relation, b.name",
                      "params": {"name": "Ada Lindqvist"}, "limit": 50}]})

    cypher: str = Field(min_length=1, max_length=10_000, description="One read-only Cypher statement.")
    params: dict[str, ParamValue] = Field(default_factory=dict, max_length=100,
                                          description="Values of the query's $parameters.")
    limit: int = Field(100, ge=1, le=MAX_QUERY_ROWS, description="Rows returned at most.")


class AskRequest(BaseModel):
    """Body of ``POST /api/ask`` and ``POST /api/ask/stream``: one question in plain language."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"question": "Where does Ada live?"}]})

    question: str = Field(min_length=1, max_length=1000, pattern=r"\S", description="The question.")


class ChatRequest(BaseModel):
    """Body of ``POST /api/chat`` and ``POST /api/chat/stream``: one turn of a conversation."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": "Who founded Velmora Bikes?"}, {"conversation_id": "c3f1...", "question": "Where was she born?"}]})

    question: str = Field(min_length=1, max_length=1000, pattern=r"\S", description="The turn, as the user typed it.")
    conversation_id: str | None = Field(None, max_length=64, description="The conversation to continue (the id "
                                        "an earlier turn returned); none: a new conversation.")


class ChatMessage(BaseModel):
    """One message of ``POST /v1/chat/completions``."""

    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=20)
    content: str | None = Field(None, max_length=10_000)


class ChatCompletionRequest(BaseModel):
    """Body of ``POST /v1/chat/completions`` (OpenAI format; sampling options are accepted and ignored: the reply
    is the graph's cited answer)."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
