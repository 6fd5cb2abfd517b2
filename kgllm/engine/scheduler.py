"""Continuous batching (pure Python): which sequences run in the next step, and how many tokens.

Every step is a token budget (``max_batch_tokens``) shared by decodes (one token each) and
prefills (chunks of a prompt). Running sequences go first, oldest first; each needs KV blocks
for its new tokens, and when none are free the newest running sequence is *preempted*: its
blocks are released and it goes back to the front of the queue, to be recomputed (prompt +
tokens generated so far, often straight from the prefix cache) when memory frees up. Waiting
sequences are then admitted in arrival order while budget, blocks and ``max_num_seqs`` allow.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kgllm.engine.kv_cache import BlockManager
from kgllm.engine.sequence import Sequence, SequenceStatus
from kgllm.errors import ConfigError

__all__ = ["Scheduler", "ScheduledBatch"]


@dataclass(slots=True)
class ScheduledBatch:
    """Sequences of one step with how many new tokens each computes (decodes first).

    ``sample[i]`` is True when ``seqs[i]`` reaches its last token in this step, so the
    logits of that position give its next token.
    """

    seqs: list[Sequence]
    num_new_tokens: list[int]
    sample: list[bool]

    @property
    def num_tokens(self) -> int:
        return sum(self.num_new_tokens)

    def __bool__(self) -> bool:
        return bool(self.seqs)


class Scheduler:
    def __init__(self, blocks: BlockManager, max_num_seqs: int = 32, max_batch_tokens: int = 512) -> None:
        if max_num_seqs < 1 or max_batch_tokens < 1:
            raise ConfigError(f"max_num_seqs and max_batch_tokens must be >= 1, "
                              f"got {max_num_seqs}, {max_batch_tokens}")
        self.blocks = blocks
        self.max_num_seqs = max_num_seqs
        self.max_batch_tokens = max_batch_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    def add(self, seq: Sequence) -> None:
        seq.status = SequenceStatus.WAITING
        self.waiting.append(seq)

    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running)

    def _preempt(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.blocks.release(seq)
        seq.status = SequenceStatus.WAITING
        seq.num_preemptions += 1
        self.num_preemptions += 1
        self.waiting.appendleft(seq)

    def schedule(self) -> ScheduledBatch:
        budget = self.max_batch_tokens
        decodes: list[tuple[Sequence, int]] = []
        prefills: list[tuple[Sequence, int]] = []
        # 1. running sequences, oldest first; preempt the newest when blocks run out
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            n = min(seq.num_tokens - seq.num_computed_tokens, budget)
            while not self.blocks.can_reserve(seq, seq.num_computed_tokens + n):
                victim = self.running[-1]
                self._preempt(victim)
                if victim is seq:
                    break
            else:
                self.blocks.reserve(seq, seq.num_computed_tokens + n)
                budget -= n
                is_decode = seq.num_computed_tokens == seq.num_tokens - 1
                (decodes if is_decode else prefills).append((seq, n))
                i += 1
                continue
            break  # seq preempted itself: every newer one is gone too
        # 2. admit waiting sequences in order while budget, memory and slots allow
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            seq = self.waiting[0]
            self.blocks.allocate_prefix(seq)
            n = min(seq.num_tokens - seq.num_computed_tokens, budget)
            if not self.blocks.can_reserve(seq, seq.num_computed_tokens + n):
                self.blocks.release(seq)
                break
            self.blocks.reserve(seq, seq.num_computed_tokens + n)
            self.waiting.popleft()
            self.blocks.hit_tokens += seq.num_cached_tokens
            self.blocks.query_tokens += seq.num_tokens
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            budget -= n
            prefills.append((seq, n))
        pairs = sorted(decodes + prefills, key=lambda sn: sn[1] != 1)   # single-token rows first
        return ScheduledBatch(
            seqs=[s for s, _ in pairs], num_new_tokens=[n for _, n in pairs],
            sample=[s.num_computed_tokens + n == s.num_tokens for s, n in pairs])

    def advance(self, batch: ScheduledBatch) -> None:
        """Mark the scheduled tokens as computed (call after the forward pass)."""
        for seq, n in zip(batch.seqs, batch.num_new_tokens):
            seq.num_computed_tokens += n
            self.blocks.commit_full_blocks(seq)

    def finish(self, seq: Sequence, reason: str) -> None:
        """End ``seq`` (running or waiting) and free its blocks."""
        seq.finish_reason = reason
        if seq.status is SequenceStatus.RUNNING:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self.blocks.release(seq)
        seq.status = SequenceStatus.FINISHED
