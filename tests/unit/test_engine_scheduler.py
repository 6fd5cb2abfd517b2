"""Pure-Python engine parts: KV block accounting, prefix caching and the scheduler (no model)."""

from __future__ import annotations

import pytest
import torch

from kgllm.engine.kv_cache import BlockManager, num_blocks_for_budget
from kgllm.engine.params import SamplingParams
from kgllm.engine.sampler import AllowedTokensProcessor, apply_top_k_top_p
from kgllm.engine.scheduler import Scheduler
from kgllm.engine.sequence import Sequence, SequenceStatus
from kgllm.errors import ConfigError


def _seq(n: int, start: int = 0, max_tokens: int = 8) -> Sequence:
    return Sequence(list(range(start, start + n)), SamplingParams(max_tokens=max_tokens))


def _run(sched: Scheduler, steps: int) -> list:
    """Simulate steps: every sampled sequence gets token 7."""
    log = []
    for _ in range(steps):
        batch = sched.schedule()
        log.append(batch)
        sched.advance(batch)
        for seq, samp in zip(batch.seqs, batch.sample):
            if samp:
                seq.append_token(7)
                if seq.num_output_tokens >= seq.params.max_tokens:
                    sched.finish(seq, "length")
    return log


def test_budget_and_block_sizes():
    assert num_blocks_for_budget(1, num_layers=1, num_kv_heads=1, head_dim=64, dtype_bytes=4, block_size=16) == 128
    with pytest.raises(ConfigError):
        num_blocks_for_budget(0.001, num_layers=30, num_kv_heads=3, head_dim=64, dtype_bytes=4, block_size=16)
    with pytest.raises(ConfigError):
        Scheduler(BlockManager(4), max_num_seqs=0)


def test_prefix_blocks_shared_ref_counted_and_evicted_lru():
    kv = BlockManager(num_blocks=6, block_size=4)
    a = _seq(12)
    kv.allocate_prefix(a)
    kv.reserve(a, 12)
    a.num_computed_tokens = 12
    kv.commit_full_blocks(a)
    b = _seq(12)                          # same 12 tokens: reuses 2 blocks (never the last token's)
    kv.allocate_prefix(b)
    assert b.num_cached_tokens == 8 and b.block_table == a.block_table[:2]
    assert kv.ref_count[a.block_table[0]] == 2
    kv.release(a)
    kv.release(b)
    assert kv.num_free_blocks == 6
    c = _seq(9)                           # cached after release, until the memory is needed
    kv.allocate_prefix(c)
    assert c.num_cached_tokens == 8
    kv.release(c)
    d = _seq(24, start=100)
    kv.allocate_prefix(d)
    kv.reserve(d, 24)                     # takes every block: the cache is evicted
    kv.release(d)
    e = _seq(9)
    kv.allocate_prefix(e)
    assert e.num_cached_tokens == 0


def test_sequences_get_consecutive_blocks_while_memory_allows():
    kv = BlockManager(num_blocks=16, block_size=4)
    a, b = _seq(10), _seq(6, start=50)              # claims: ceil(18/4)=5 and ceil(14/4)=4 blocks
    for seq in (a, b):
        kv.allocate_prefix(seq)
        kv.reserve(seq, seq.num_tokens)
    assert a.block_table == [0, 1, 2] and b.block_table == [5, 6]
    kv.reserve(a, 18)                               # grows into its own run, not into b's
    kv.reserve(b, 14)
    assert a.block_table == [0, 1, 2, 3, 4] and b.block_table == [5, 6, 7, 8]
    c = _seq(28, start=100)                         # a 9-block run does not fit: takes what is free
    kv.allocate_prefix(c)
    kv.reserve(c, 28)
    assert c.block_table == [9, 10, 11, 12, 13, 14, 15] and kv.num_free_blocks == 0
    for seq in (a, b, c):
        kv.release(seq)
    assert not any(kv.claimed) and kv.num_free_blocks == 16


def test_continuous_batching_chunked_prefill_and_budget():
    sched = Scheduler(BlockManager(64, 4), max_num_seqs=4, max_batch_tokens=10)
    for n in (25, 3, 3):
        sched.add(_seq(n, max_tokens=3))
    log = _run(sched, 12)
    assert all(b.num_tokens <= 10 for b in log)
    assert log[0].num_new_tokens == [10]                       # chunk of the long prompt
    assert any(len(b.seqs) == 3 for b in log)                  # several sequences in one step
    assert all(b.num_new_tokens == sorted(b.num_new_tokens, key=lambda n: n != 1) for b in log)  # decodes first
    assert not sched.has_unfinished()


def test_preemption_recomputes_and_resumes():
    sched = Scheduler(BlockManager(6, 4), max_num_seqs=4, max_batch_tokens=64)
    seqs = [_seq(7, start=10 * i, max_tokens=6) for i in range(3)]
    for s in seqs:
        sched.add(s)
    _run(sched, 40)
    assert sched.num_preemptions > 0
    assert all(s.status is SequenceStatus.FINISHED and s.output_token_ids == [7] * 6 for s in seqs)
    assert any(s.num_preemptions for s in seqs)
    assert sched.blocks.num_free_blocks == 6


def test_top_k_top_p_masks():
    logits = torch.tensor([4.0, 3.0, 2.0, 1.0])
    assert torch.isinf(apply_top_k_top_p(logits, 2, 1.0)).tolist() == [False, False, True, True]
    kept = ~torch.isinf(apply_top_k_top_p(logits, 0, 0.5))
    assert kept.tolist() == [True, False, False, False]
    assert not torch.isinf(apply_top_k_top_p(logits, 0, 1.0)).any()


def test_allowed_tokens_processor():
    proc = AllowedTokensProcessor([[1, 2], [1, 3, 4]], end_id=0)
    out = proc([1], torch.zeros(6))
    assert (~torch.isinf(out)).nonzero().flatten().tolist() == [2, 3]
    assert proc.allowed([9]) == [0]
