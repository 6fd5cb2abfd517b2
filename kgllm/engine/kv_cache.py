"""Paged KV-cache accounting (pure Python): blocks, block tables, prefix caching.

The runner owns the tensors ``(num_blocks, block_size, kv_heads, head_dim)`` per layer; this
module only decides which block holds which tokens. A *full* block is identified by a chained
hash of its token ids (and of every block before it), so two requests that share a prompt
prefix share its blocks (reference counted). Freed blocks keep their contents and hash and are
reused least-recently-freed first, so a popular prefix survives until memory is needed.

Placement: a sequence admitted without prefix hits claims a run of consecutive free blocks long
enough for its prompt plus ``max_tokens`` (next-fit), and grows into it block by block; other
sequences avoid claimed blocks while they can. Consecutive blocks let the runner read a
sequence's keys and values in place instead of gathering them every step. Claims are only a
preference: under memory pressure any free block is used and correctness never depends on them.

Examples
--------
>>> from kgllm.engine.params import SamplingParams
>>> from kgllm.engine.sequence import Sequence
>>> kv = BlockManager(num_blocks=8, block_size=4)
>>> a = Sequence(list(range(10)), SamplingParams())
>>> kv.allocate_prefix(a); kv.reserve(a, a.num_tokens); a.block_table
[0, 1, 2]
>>> a.num_computed_tokens = 10; kv.commit_full_blocks(a)
>>> b = Sequence(list(range(9)) + [99], SamplingParams())
>>> kv.allocate_prefix(b); b.num_cached_tokens, b.block_table   # two full blocks shared
(8, [0, 1])
"""

from __future__ import annotations

from collections import OrderedDict

from kgllm.engine.sequence import Sequence
from kgllm.errors import ConfigError

__all__ = ["BlockManager", "num_blocks_for_budget"]


def num_blocks_for_budget(budget_mb: float, *, num_layers: int, num_kv_heads: int, head_dim: int,
                          dtype_bytes: int, block_size: int) -> int:
    """How many KV blocks (keys + values, every layer) fit in ``budget_mb`` mebibytes."""
    per_block = 2 * num_layers * block_size * num_kv_heads * head_dim * dtype_bytes
    n = int(budget_mb * 2**20 // per_block)
    if n < 1:
        raise ConfigError(f"kv_budget_mb={budget_mb} holds no KV block (one block needs "
                          f"{per_block / 2**20:.3f} MiB)")
    return n


class BlockManager:
    """Block tables, reference counts and the prefix-cache index."""

    def __init__(self, num_blocks: int, block_size: int = 16, enable_prefix_caching: bool = True) -> None:
        if num_blocks < 1 or block_size < 1:
            raise ConfigError(f"num_blocks and block_size must be >= 1, got {num_blocks}, {block_size}")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.enable_prefix_caching = enable_prefix_caching
        self.ref_count = [0] * num_blocks
        self.block_hash: list[int | None] = [None] * num_blocks
        self.block_tokens: list[tuple[int, ...] | None] = [None] * num_blocks
        self.hash_to_block: dict[int, int] = {}
        self.free: OrderedDict[int, None] = OrderedDict((i, None) for i in range(num_blocks))  # LRU order
        self.hit_tokens = 0      # prefix-cache statistics, counted by the scheduler on admission
        self.query_tokens = 0
        self.claimed = bytearray(num_blocks)          # 1: inside a running sequence's claimed run
        self._claims: dict[int, tuple[int, int]] = {}  # seq_id -> (first block, number of blocks)
        self._cursor = 0                               # next-fit search start

    @property
    def num_free_blocks(self) -> int:
        return len(self.free)

    def blocks_needed(self, seq: Sequence, num_tokens: int) -> int:
        """Extra blocks ``seq`` needs so that its table covers ``num_tokens`` tokens."""
        return max(0, -(-num_tokens // self.block_size) - len(seq.block_table))

    def _hash(self, prev: int | None, tokens: tuple[int, ...]) -> int:
        return hash((prev, tokens))

    def _take_free(self, prefer: int | None = None) -> int:
        if prefer is not None and 0 <= prefer < self.num_blocks and prefer in self.free:
            block = prefer
            del self.free[block]
        else:   # least recently freed, skipping blocks claimed by other sequences while possible
            block = next((b for b in self.free if not self.claimed[b]), None)
            if block is None:
                block, _ = self.free.popitem(last=False)
            else:
                del self.free[block]
        h = self.block_hash[block]
        if h is not None and self.hash_to_block.get(h) == block:
            del self.hash_to_block[h]        # evict its cached contents
        self.block_hash[block] = None
        self.block_tokens[block] = None
        self.ref_count[block] = 1
        return block

    def allocate_prefix(self, seq: Sequence) -> None:
        """Admit ``seq``: reuse cached full blocks of its prefix (never its last token)."""
        if seq.block_table:
            raise ConfigError(f"sequence {seq.request_id} already holds blocks")
        bs, hits, prev = self.block_size, 0, None
        if self.enable_prefix_caching:
            for i in range((seq.num_tokens - 1) // bs):
                tokens = tuple(seq.token_ids[i * bs:(i + 1) * bs])
                h = self._hash(prev, tokens)
                block = self.hash_to_block.get(h)
                if block is None or self.block_tokens[block] != tokens:
                    break
                if self.ref_count[block] == 0:
                    del self.free[block]
                self.ref_count[block] += 1
                seq.block_table.append(block)
                prev, hits = h, hits + 1
        seq.num_hashed_blocks = hits
        seq.num_computed_tokens = seq.num_cached_tokens = hits * bs
        if not hits:
            self._claim(seq)

    def _claim(self, seq: Sequence) -> None:
        """Claim the first run of consecutive unclaimed free blocks that holds all of ``seq`` (next-fit)."""
        need = -(-(seq.num_prompt_tokens + seq.params.max_tokens) // self.block_size)
        n, run = self.num_blocks, 0
        if need > len(self.free):
            return
        for step in range(n):
            i = (self._cursor + step) % n
            if i == 0:
                run = 0      # runs do not wrap around the end
            run = run + 1 if (i in self.free and not self.claimed[i]) else 0
            if run == need:
                first = i - need + 1
                self._claims[seq.seq_id] = (first, need)
                self.claimed[first:first + need] = b"\x01" * need
                self._cursor = (i + 1) % n
                return

    def can_reserve(self, seq: Sequence, num_tokens: int) -> bool:
        return self.blocks_needed(seq, num_tokens) <= len(self.free)

    def reserve(self, seq: Sequence, num_tokens: int) -> None:
        """Append fresh blocks so ``seq`` can hold ``num_tokens`` tokens (check ``can_reserve`` first)."""
        claim = self._claims.get(seq.seq_id)
        for _ in range(self.blocks_needed(seq, num_tokens)):
            table = seq.block_table
            prefer = table[-1] + 1 if table else (claim[0] if claim else None)
            if prefer is not None and prefer < self.num_blocks and self.claimed[prefer] and not (
                    claim and claim[0] <= prefer < claim[0] + claim[1]):
                prefer = None    # another sequence's run
            seq.block_table.append(self._take_free(prefer))

    def commit_full_blocks(self, seq: Sequence) -> None:
        """Register the blocks of ``seq`` that are now full and computed in the prefix cache."""
        if not self.enable_prefix_caching:
            return
        bs = self.block_size
        n_full = seq.num_computed_tokens // bs
        prev = self.block_hash[seq.block_table[seq.num_hashed_blocks - 1]] if seq.num_hashed_blocks else None
        for i in range(seq.num_hashed_blocks, n_full):
            tokens = tuple(seq.token_ids[i * bs:(i + 1) * bs])
            h = self._hash(prev, tokens)
            block = seq.block_table[i]
            self.block_hash[block] = h
            self.block_tokens[block] = tokens
            self.hash_to_block.setdefault(h, block)
            prev = h
        seq.num_hashed_blocks = max(seq.num_hashed_blocks, n_full)

    def release(self, seq: Sequence) -> None:
        """Drop ``seq``'s blocks (tail first, so shared heads stay cached longest)."""
        for block in reversed(seq.block_table):
            self.ref_count[block] -= 1
            if self.ref_count[block] == 0:
                if self.block_hash[block] is None:
                    self.free[block] = None
                    self.free.move_to_end(block, last=False)   # uncached: reuse first
                else:
                    self.free[block] = None
        seq.block_table = []
        seq.num_computed_tokens = seq.num_hashed_blocks = 0
        claim = self._claims.pop(seq.seq_id, None)
        if claim is not None:
            first, need = claim
            self.claimed[first:first + need] = bytes(need)
