"""A real :class:`~kgllm.engine.Engine` (scheduler, KV block accounting, outputs) over a fake model.

The fake "model" echoes its prompt: output token ``k`` is prompt token ``k`` (cyclically), so a
request for ``"hello"`` with ``max_tokens=3`` produces ``"hel"``. Tokens are Unicode code points.
Failures are injected on the runner: ``poison`` (every step whose batch holds a prompt containing that
text fails, as a request that crashes the model would), ``fail_steps`` (the next n steps fail) and
``interrupt_at`` (a KeyboardInterrupt at that step number); ``delay`` slows each step down.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from kgllm.engine import Engine
from kgllm.engine.kv_cache import BlockManager
from kgllm.engine.scheduler import Scheduler

EOS = 0


class FakeTokenizer:
    eos_token_id = EOS

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": [ord(c) for c in text]}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return "".join(chr(i) for i in ids if i != EOS)

    def apply_chat_template(self, messages, add_generation_prompt: bool = True, tokenize: bool = False) -> str:
        return "\n".join(m["content"] for m in messages) + "\n"


class FakeRunner:
    def __init__(self, max_model_len: int = 1024, delay: float = 0.0, poison: str | None = None) -> None:
        self.max_model_len, self.delay, self.poison = max_model_len, delay, poison
        self.embed = SimpleNamespace(shape=(0x110000, 1))
        self.device = "fake"
        self.steps = 0
        self.fail_steps = 0
        self.interrupt_at: int | None = None

    def run(self, batch) -> list[int]:
        self.steps += 1
        if self.delay:
            time.sleep(self.delay)
        if self.interrupt_at == self.steps:
            raise KeyboardInterrupt
        if self.fail_steps:
            self.fail_steps -= 1
            raise RuntimeError("injected model failure")
        if self.poison and any(self.poison in FakeTokenizer().decode(s.token_ids) for s in batch.seqs):
            raise RuntimeError("injected model failure on a poisoned prompt")
        sampled = [s for s, f in zip(batch.seqs, batch.sample) if f]
        return [s.token_ids[s.num_output_tokens % s.num_prompt_tokens] for s in sampled]


def make_engine(num_blocks: int = 64, block_size: int = 4, max_num_seqs: int = 8, max_batch_tokens: int = 64,
                engine_cls: type = Engine, **runner_kwargs) -> Engine:
    """An engine on :class:`FakeRunner`; ``engine_cls`` may be a subclass that injects failures."""
    scheduler = Scheduler(BlockManager(num_blocks, block_size), max_num_seqs=max_num_seqs,
                          max_batch_tokens=max_batch_tokens)
    return engine_cls(FakeRunner(**runner_kwargs), FakeTokenizer(), scheduler)


def idle(engine: Engine) -> bool:
    """Nothing scheduled, no request state kept, every KV block free."""
    stats = engine.stats()
    return not engine.has_unfinished() and not engine._seqs and stats["free_blocks"] == stats["num_blocks"]
