"""Next-token choice per request: logits processors, then greedy or temperature/top-k/top-p.

Called by the runner with one row of logits per sequence that samples this step. Greedy rows
without processors are batched into one argmax; the others are handled row by row on the CPU
with the request's own ``torch.Generator`` when it has a seed, so a seeded request draws the
same tokens whatever else is in the batch and whatever the device.
"""

from __future__ import annotations

from typing import Sequence as Seq

import torch

from kgllm.engine.sequence import Sequence

__all__ = ["sample", "apply_top_k_top_p", "AllowedTokensProcessor"]


def apply_top_k_top_p(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Mask (to -inf) the tokens outside the top-k and outside the top-p nucleus; logits (V,)."""
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs > top_p          # mass before this token already > top_p
        drop[0] = False
        logits = logits.clone()
        logits[order[drop]] = float("-inf")
    return logits


def _sample_row(logits: torch.Tensor, seq: Sequence) -> int:
    p = seq.params
    for proc in p.logits_processors:
        logits = proc(seq.output_token_ids, logits)
    if p.temperature == 0.0:
        return int(logits.argmax())
    logits = apply_top_k_top_p(logits / p.temperature, p.top_k, p.top_p)
    probs = logits.softmax(-1)
    if p.seed is not None and seq.generator is None:
        seq.generator = torch.Generator(device="cpu").manual_seed(p.seed)
    return int(torch.multinomial(probs, 1, generator=seq.generator))


def sample(logits: torch.Tensor, seqs: Seq[Sequence]) -> list[int]:
    """logits (S, V) float32 -> one token id per sequence."""
    plain = [i for i, s in enumerate(seqs) if s.params.temperature == 0.0 and not s.params.logits_processors]
    out = [0] * len(seqs)
    if plain:
        idx = torch.tensor(plain, device=logits.device)
        for i, tok in zip(plain, logits[idx].argmax(-1).tolist()):
            out[i] = tok
    if len(plain) < len(seqs):
        cpu = logits.cpu()
        done = set(plain)
        for i, seq in enumerate(seqs):
            if i not in done:
                out[i] = _sample_row(cpu[i], seq)
    return out


class AllowedTokensProcessor:
    """Constrain output to one of the allowed token sequences (a trie), then to ``end_id``.

    Examples
    --------
    >>> proc = AllowedTokensProcessor([[5, 6], [5, 7, 8]], end_id=2)
    >>> proc.allowed([5])
    [6, 7]
    >>> proc.allowed([5, 6])
    [2]
    """

    def __init__(self, sequences: Seq[Seq[int]], end_id: int) -> None:
        self.trie: dict = {}
        for tokens in sequences:
            node = self.trie
            for t in tokens:
                node = node.setdefault(int(t), {})
            node[None] = {}
        self.end_id = end_id

    def allowed(self, prefix: Seq[int]) -> list[int]:
        node = self.trie
        for t in prefix:
            node = node.get(t)
            if node is None:
                return [self.end_id]
        return sorted(k for k in node if k is not None) + ([self.end_id] if None in node else [])

    def __call__(self, token_ids: Seq[int], logits: torch.Tensor) -> torch.Tensor:
        keep = torch.tensor(self.allowed(token_ids), device=logits.device)
        masked = torch.full_like(logits, float("-inf"))
        masked[keep] = logits[keep]
        return masked
