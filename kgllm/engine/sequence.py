"""Request state: the token ids of one request, where it is in its life, and its output.

A :class:`Sequence` is owned by the scheduler; the engine reads it to build outputs.
"""

from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass, field

from kgllm.engine.params import SamplingParams

__all__ = ["Sequence", "SequenceStatus", "Output"]

_ids = itertools.count()


class SequenceStatus(enum.Enum):
    WAITING = "waiting"      # queued (new, or preempted and waiting to be recomputed)
    RUNNING = "running"      # holds KV blocks; prefilling or decoding
    FINISHED = "finished"


class Sequence:
    """One request: prompt + generated token ids, KV block table and progress counters.

    ``num_computed_tokens`` counts tokens whose keys/values are in the KV cache (including
    ``num_cached_tokens`` reused from the prefix cache); the tokens after it still need a
    forward pass. After preemption it drops to 0 and the whole sequence is recomputed.
    """

    __slots__ = ("seq_id", "request_id", "token_ids", "num_prompt_tokens", "params", "status",
                 "block_table", "num_computed_tokens", "num_cached_tokens", "num_hashed_blocks",
                 "finish_reason", "text", "emitted_chars", "arrival_time", "first_token_time",
                 "finish_time", "num_preemptions", "generator")

    def __init__(self, token_ids: list[int], params: SamplingParams, request_id: str | None = None) -> None:
        self.seq_id = next(_ids)
        self.request_id = request_id if request_id is not None else f"req-{self.seq_id}"
        self.token_ids = list(token_ids)
        self.num_prompt_tokens = len(self.token_ids)
        self.params = params
        self.status = SequenceStatus.WAITING
        self.block_table: list[int] = []
        self.num_computed_tokens = 0
        self.num_cached_tokens = 0      # prefix-cache hit tokens at the last (re)admission
        self.num_hashed_blocks = 0      # leading full blocks registered in the prefix cache
        self.finish_reason: str | None = None
        self.text = ""                  # decoded output text (cut at a stop string)
        self.emitted_chars = 0          # characters of ``text`` already streamed out
        self.arrival_time = time.perf_counter()
        self.first_token_time: float | None = None
        self.finish_time: float | None = None
        self.num_preemptions = 0
        self.generator = None           # per-request RNG, created by the sampler when seeded

    def __len__(self) -> int:
        return len(self.token_ids)

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def output_token_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens:]

    @property
    def num_output_tokens(self) -> int:
        return len(self.token_ids) - self.num_prompt_tokens

    @property
    def is_finished(self) -> bool:
        return self.status is SequenceStatus.FINISHED

    def append_token(self, token_id: int) -> None:
        if self.first_token_time is None:
            self.first_token_time = time.perf_counter()
        self.token_ids.append(token_id)


@dataclass(slots=True)
class Output:
    """What a request produced so far (``finished`` tells whether it is complete).

    ``delta`` is the text added since the previous output of this request (for streaming).
    ``finish_reason`` is ``"stop"`` (EOS, stop token or stop string), ``"length"`` (max_tokens
    or context limit) or ``"abort"``.
    """

    request_id: str
    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str
    delta: str = ""
    finished: bool = False
    finish_reason: str | None = None
    num_cached_tokens: int = 0
    num_preemptions: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
