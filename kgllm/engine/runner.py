"""The model runner: the engine's torch code. One forward for every supported family, over packed batches.

All new tokens of a step (prefill chunks and decodes of every sequence) are packed into one
``(T, C)`` matrix, so every projection is one matmul with no padding. Attention runs per
sequence, unpadded: a decode reads its keys/values in place when its blocks are consecutive (the
block manager places them so while memory allows), otherwise from one gather into a reused
buffer; a prefill chunk attends causally to itself (and to its cached prefix, gathered).
Logits are computed only where a token is sampled.

The family's switches (:class:`~kgllm.engine.arch.ArchSpec`) pick the variants: q/k norms, Gemma's norms,
embedding scale and sandwich norms, GELU-tanh, per-layer sliding windows (a mask on the keys, which all stay in the
cache), soft-capped attention scores (then attention is computed here instead of by SDPA) and final logits,
per-layer rotary tables and partial rotary dims.

KV cache per layer: ``(num_blocks, block_size, kv_heads, head_dim)`` for keys and for values;
a token at position ``p`` of a sequence lives in slot ``block_table[p // bs] * bs + p % bs``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kgllm.engine.arch import ArchSpec, arch_spec
from kgllm.engine.rope import RotaryTables, apply_rotary
from kgllm.engine.sampler import sample
from kgllm.engine.scheduler import ScheduledBatch
from kgllm.engine.weights import LayerWeights, Norm, layer_weights, norm_weight
from kgllm.errors import ConfigError

__all__ = ["ModelRunner"]


def rms_norm(x: torch.Tensor, norm: Norm) -> torch.Tensor:
    """RMSNorm over the last dim: Llama multiplies in the input's dtype, Gemma by ``1 + w`` in float32."""
    dtype = x.dtype
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + norm.eps)
    return (xf * norm.weight).to(dtype) if norm.gemma else norm.weight * xf.to(dtype)


def linear_cpu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear`` for the CPU: few rows (decode steps) go through ``W @ x.T``, which MKL runs
    about 1.5x faster than ``x @ W.T`` for skinny ``x`` (same products and sums, same result)."""
    if x.shape[0] > 64:
        return F.linear(x, weight, bias)
    y = torch.mm(weight, x.t()).t().contiguous()
    return y if bias is None else y + bias


def softcap(x: torch.Tensor, cap: float | None) -> torch.Tensor:
    """``cap * tanh(x / cap)`` (Gemma 2), or ``x`` when ``cap`` is None."""
    return x if cap is None else torch.tanh(x / cap) * cap


def window_mask(n: int, c: int, window: int | None, device) -> torch.Tensor | None:
    """(n, c+n) bool: query ``c+i`` sees key ``j`` when ``j <= c+i`` and ``j > c+i-window``; None: plain causal."""
    if c == 0 and (window is None or n <= window):
        return None
    q = torch.arange(c, c + n, device=device)[:, None]
    k = torch.arange(c + n, device=device)[None]
    mask = k <= q
    return mask if window is None else mask & (k > q - window)


def attend(q, k, v, mask, scale: float, cap: float | None) -> torch.Tensor:
    """q (B, H, n, D), k/v (B, Hkv, m, D) -> (B, H, n, D); ``mask`` (n, m) bool (additive also does without a
    soft cap), or None for causal from the start.

    Without a soft cap this is SDPA; with one (Gemma 2) the scores are computed here, as transformers' eager
    attention does: ``q k^T * scale``, soft-capped, masked, softmax in float32, times ``v``.
    """
    if cap is None:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None and q.shape[2] > 1,
                                              scale=scale, enable_gqa=True)
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    scores = softcap(torch.matmul(q, k.transpose(2, 3)) * scale, cap)              # (1, H, n, m)
    if mask is None and q.shape[2] > 1:
        mask = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.matmul(scores.softmax(-1, dtype=torch.float32).to(q.dtype), v)


class ModelRunner:
    """Owns the weights (taken from a transformers model of a supported family) and the KV cache tensors."""

    BATCH_DECODE_BYTES = 4 * 2**20      # see _batch_decodes

    def __init__(self, model, num_blocks: int, block_size: int, spec: ArchSpec | None = None) -> None:
        self.spec = spec = spec or arch_spec(model.config)
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.num_layers, self.num_heads = spec.num_layers, spec.num_heads
        self.num_kv_heads, self.head_dim = spec.num_kv_heads, spec.head_dim
        self.block_size = block_size
        self.max_model_len = spec.max_model_len
        inner = model.model
        self.embed = inner.embed_tokens.weight                     # (V, C)
        self.lm_head = model.lm_head.weight                        # (V, C)
        self.final_norm = norm_weight(inner.norm, spec)
        self.embed_scale = (None if spec.embed_scale is None
                            else torch.tensor(spec.embed_scale, dtype=self.dtype, device=self.device))
        self.linear = linear_cpu if self.device.type == "cpu" else F.linear
        self.act = F.silu if spec.activation == "silu" else lambda x: F.gelu(x, approximate="tanh")
        with torch.no_grad():
            self.layers: list[LayerWeights] = [layer_weights(layer, i, spec) for i, layer in enumerate(inner.layers)]
            self.rope = RotaryTables(model, spec, self.device)
        if len(self.layers) != spec.num_layers:
            raise ConfigError(f"model has {len(self.layers)} layers, its config says {spec.num_layers}")
        shape = (num_blocks, block_size, self.num_kv_heads, self.head_dim)
        self.k_cache = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        self.v_cache = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        self._buffers: list[torch.Tensor | None] = [None, None]

    # ------------------------------------------------------------------ inputs
    def _prepare(self, batch: ScheduledBatch) -> dict:
        bs, dev = self.block_size, self.device
        ids, pos, slots, logit_rows = [], [], [], []
        dec_tables, dec_lens, prefills = [], [], []
        start = 0
        for seq, n, samp in zip(batch.seqs, batch.num_new_tokens, batch.sample):
            c, table = seq.num_computed_tokens, seq.block_table
            ids.extend(seq.token_ids[c:c + n])
            pos.extend(range(c, c + n))
            slots.extend(table[p // bs] * bs + p % bs for p in range(c, c + n))
            if n == 1:
                dec_tables.append(table)
                dec_lens.append(c + 1)
            else:
                ctx_slots = None
                if c > 0:   # attends to a cached prefix: gather the whole context from the cache
                    ctx_slots = torch.tensor([table[p // bs] * bs + p % bs for p in range(c + n)],
                                             dtype=torch.long, device=dev)
                prefills.append((start, n, c, ctx_slots))
            start += n
            if samp:
                logit_rows.append(start - 1)
        nd = len(dec_tables)
        if nd and any(n != 1 for n in batch.num_new_tokens[:nd]):
            raise ConfigError("scheduled batch must list decodes first")
        long = dict(dtype=torch.long, device=dev)
        out = dict(ids=torch.tensor(ids, **long), pos=torch.tensor(pos, **long),
                   slots=torch.tensor(slots, **long), rows=torch.tensor(logit_rows, **long),
                   nd=nd, prefills=prefills, dec_lens=dec_lens)
        if nd and self._batch_decodes(nd, max(dec_lens)):
            out["dec_batch"] = self._padded_decodes(dec_tables, dec_lens)
        elif nd:
            # each decode reads its keys/values in place when its blocks are consecutive (a view of
            # the cache); the others are gathered, unpadded, back to back
            within = torch.arange(bs, **long)
            src, gather, offset = [], [], 0
            for t, n in zip(dec_tables, dec_lens):
                nb = -(-n // bs)
                if t[nb - 1] - t[0] == nb - 1 and t[:nb] == list(range(t[0], t[0] + nb)):
                    src.append((t[0] * bs, n, -1))
                else:
                    src.append((-1, n, offset))
                    gather.append((torch.tensor(t[:nb], **long)[:, None] * bs + within).view(-1)[:n])
                    offset += n
            out["dec_src"] = src
            out["dec_slots"] = torch.cat(gather) if gather else None
        return out

    def _batch_decodes(self, nd: int, longest: int) -> bool:
        """Decodes attend in one padded call when their gathered keys + values are small (small models, short
        contexts: call overhead dominates); otherwise one call each, reading keys in place (no copy)."""
        elsize = torch.empty(0, dtype=self.dtype).element_size()
        return nd > 1 and 2 * nd * longest * self.num_kv_heads * self.head_dim * elsize <= self.BATCH_DECODE_BYTES

    def _padded_decodes(self, tables: list[list[int]], lens: list[int]) -> dict:
        """Per window of the model's layers, ``(slots, L, mask)``: the slots ``(B*L,)`` of the keys every decode
        sees, padded to the longest ``L``, and a ``(B, 1, 1, L)`` mask of those that are its own. A full-attention
        layer sees all the sequence's keys; a sliding layer only its last ``window`` (gathered alone, so a long
        context costs it nothing). The mask is boolean for soft-capped attention, else additive (0 or -inf)."""
        bs, dev = self.block_size, self.device
        n = torch.tensor(lens, device=dev)[:, None]                              # (B, 1)
        longest = max(lens)
        nb = -(-longest // bs)
        table = torch.tensor([t[:nb] + [0] * (nb - len(t[:nb])) for t in tables], dtype=torch.long, device=dev)
        rows = torch.arange(len(lens), device=dev)[:, None]
        out = {}
        for w in set(self.spec.windows):
            width = longest if w is None else min(w, longest)
            p = torch.arange(width, device=dev)[None]                            # (1, L)
            if w is not None:
                p = p + (n - width)                                              # the last `width` positions
            seen = p < n if w is None else p >= 0                               # (a short sequence pads)
            p = p.clamp(min=0)
            slots = table[rows, p // bs] * bs + p % bs                           # (B, L)
            mask = seen[:, None, None]
            if self.spec.attn_softcap is None:       # SDPA: an additive mask, made once for every layer
                mask = torch.zeros(mask.shape, dtype=self.dtype, device=dev).masked_fill_(~mask, float("-inf"))
            out[w] = (slots.masked_fill(~seen, 0).view(-1), width, mask)
        return out

    def _workspace(self, slot: int, shape: tuple[int, ...]) -> torch.Tensor:
        """A reused scratch tensor of ``shape`` (grown by half again when too small)."""
        n = 1
        for d in shape:
            n *= d
        buf = self._buffers[slot]
        if buf is None or buf.numel() < n:
            buf = self._buffers[slot] = torch.empty(n + n // 2, dtype=self.dtype, device=self.device)
        return buf[:n].view(shape)

    # ----------------------------------------------------------------- forward
    def _attention(self, li: int, q, k, v, inp: dict, window: int | None) -> torch.Tensor:
        """q (T, H, D), k/v (T, Hkv, D) of the new tokens -> attention output (T, H, D)."""
        kc, vc = self.k_cache[li], self.v_cache[li]                 # (N, bs, Hkv, D)
        flat_k, flat_v = kc.view(-1, *kc.shape[2:]), vc.view(-1, *vc.shape[2:])
        flat_k.index_copy_(0, inp["slots"], k)
        flat_v.index_copy_(0, inp["slots"], v)
        scale, cap = self.spec.attn_scale, self.spec.attn_softcap
        outs = []
        nd = inp["nd"]
        if "dec_batch" in inp:
            idx, longest, mask = inp["dec_batch"][window]
            shape = (nd, longest, *flat_k.shape[1:])
            kg = torch.index_select(flat_k, 0, idx, out=self._workspace(0, (idx.numel(), *flat_k.shape[1:])))
            vg = torch.index_select(flat_v, 0, idx, out=self._workspace(1, (idx.numel(), *flat_v.shape[1:])))
            kg, vg = kg.view(shape).transpose(1, 2), vg.view(shape).transpose(1, 2)      # (B, Hkv, L, D)
            outs.append(attend(q[:nd].unsqueeze(2), kg, vg, mask, scale, cap)[:, :, 0])   # (B, H, D)
        elif nd:
            # gather into reused buffers (a fresh multi-MB tensor per layer costs page faults),
            # then one attention call per sequence
            idx = inp["dec_slots"]
            if idx is not None:
                kg = torch.index_select(flat_k, 0, idx, out=self._workspace(0, (idx.numel(), *flat_k.shape[1:])))
                vg = torch.index_select(flat_v, 0, idx, out=self._workspace(1, (idx.numel(), *flat_v.shape[1:])))
            qd = q[:nd].unsqueeze(2)                                  # (B, H, 1, D)
            for i, (first, n, offset) in enumerate(inp["dec_src"]):
                lo = 0 if window is None else max(0, n - window)     # a sliding layer sees the last `window` keys
                if first >= 0:
                    ks, vs = flat_k[first + lo:first + n], flat_v[first + lo:first + n]
                else:
                    ks, vs = kg[offset + lo:offset + n], vg[offset + lo:offset + n]
                ks, vs = ks.transpose(0, 1)[None], vs.transpose(0, 1)[None]          # (1, Hkv, n-lo, D)
                outs.append(attend(qd[i:i + 1], ks, vs, None, scale, cap)[0, :, 0][None])
        for start, n, c, ctx_slots in inp["prefills"]:
            qs = q[start:start + n].transpose(0, 1)[None]             # (1, H, n, D)
            if ctx_slots is None:
                ks = k[start:start + n].transpose(0, 1)[None]         # (1, Hkv, n, D)
                vs = v[start:start + n].transpose(0, 1)[None]
            else:
                ks = flat_k[ctx_slots].transpose(0, 1)[None]          # (1, Hkv, c+n, D)
                vs = flat_v[ctx_slots].transpose(0, 1)[None]
            o = attend(qs, ks, vs, window_mask(n, c, window, q.device), scale, cap)
            outs.append(o[0].transpose(0, 1))                         # (n, H, D)
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    @torch.inference_mode()
    def forward(self, inp: dict) -> torch.Tensor:
        """Logits (R, V) at the rows ``inp["rows"]`` (those that sample a token)."""
        H, Hkv, D = self.num_heads, self.num_kv_heads, self.head_dim
        x = F.embedding(inp["ids"], self.embed)                      # (T, C)
        if self.embed_scale is not None:
            x = x * self.embed_scale                                 # Gemma: times sqrt(C), in the weights' dtype
        rope = self.rope.cos_sin(inp["pos"], self.dtype)             # {key: (T, 1, R) cos, sin}
        t, linear, act = x.shape[0], self.linear, self.act
        for li, w in enumerate(self.layers):
            h = rms_norm(x, w.attn_norm)
            qkv = linear(h, w.qkv, w.qkv_bias)                       # (T, (H + 2 Hkv) D)
            qk, v = qkv.split([(H + Hkv) * D, Hkv * D], dim=-1)
            qk, v = qk.view(t, H + Hkv, D), v.view(t, Hkv, D)         # q's heads, then k's
            if w.q_norm is not None:                                 # Qwen3, Gemma 3: per-head norms
                q, k = qk.split([H, Hkv], dim=1)
                qk = torch.cat((rms_norm(q, w.q_norm), rms_norm(k, w.k_norm)), dim=1)
            cos, sin = rope[w.rope_key]
            q, k = apply_rotary(qk, cos, sin).split([H, Hkv], dim=1)  # one rotation for q and k
            o = self._attention(li, q, k, v.contiguous(), inp, w.window)        # (T, H, D)
            o = linear(o.reshape(t, H * D), w.o, w.o_bias)
            x = x + (o if w.post_attn_norm is None else rms_norm(o, w.post_attn_norm))
            h = rms_norm(x, w.mlp_norm)
            gate, up = linear(h, w.gate_up, w.gate_up_bias).chunk(2, dim=-1)      # (T, I) each
            m = linear(act(gate) * up, w.down, w.down_bias)
            x = x + (m if w.post_mlp_norm is None else rms_norm(m, w.post_mlp_norm))
        x = rms_norm(x[inp["rows"]], self.final_norm)                 # (S, C)
        return softcap(linear(x, self.lm_head), self.spec.final_softcap).float()   # (S, V)

    @torch.inference_mode()
    def check_against(self, model, num_tokens: int = 32) -> None:
        """Refuse to run unless this forward reproduces ``model``'s (the transformers model the weights came from).

        Compares the rotary tables at positions up to the context limit (where scaled ropes differ most) and the
        logits of a fixed ``num_tokens``-token prompt; a model with a feature the engine does not know (a config
        switch its family never had) fails here instead of producing different text. Writes only KV slots
        ``[0, num_tokens)``, which must be free.

        Raises
        ------
        ConfigError
            The engine's results differ from transformers' beyond rounding.
        """
        fp32 = self.dtype == torch.float32
        mt = self.spec.model_type
        pos = torch.tensor(sorted({0, 1, self.max_model_len // 2, self.max_model_len - 1}), device=self.device)
        probe = torch.zeros(1, dtype=self.dtype, device=self.device)
        for key, (cos, _) in self.rope.cos_sin(pos, self.dtype).items():
            ref = model.model.rotary_emb(probe, pos[None], *(() if key is None else (key,)))[0][0]
            if not torch.allclose(cos[:, 0].float(), ref.float(), atol=1e-5 if fp32 else 1e-2):
                raise ConfigError(f"the engine's rotary embedding differs from transformers' for this {mt!r} model "
                                  f"(rope {self.spec.rope_types[key]!r}); refusing to run it")
        n = min(num_tokens, self.k_cache[0].shape[0] * self.block_size, self.max_model_len)
        gen = torch.Generator().manual_seed(0)
        ids = torch.randint(0, self.embed.shape[0], (n,), generator=gen).to(self.device)
        ar = torch.arange(n, device=self.device)
        got = self.forward(dict(ids=ids, pos=ar, slots=ar, rows=ar, nd=0, prefills=[(0, n, 0, None)], dec_lens=[]))
        want = model(input_ids=ids[None], use_cache=False).logits[0].float()
        err = float((got - want).abs().max() / want.abs().max().clamp(min=1.0))
        if not err <= (1e-3 if fp32 else 0.1):
            raise ConfigError(f"the engine's forward differs from transformers' for this {mt!r} model (largest logit "
                              f"difference {err:.2%} of the largest logit); refusing to run it rather than "
                              f"produce different text")

    def run(self, batch: ScheduledBatch) -> list[int]:
        """Forward one scheduled step and sample; one token id per sequence with ``sample``."""
        inp = self._prepare(batch)
        logits = self.forward(inp)
        return sample(logits, [s for s, f in zip(batch.seqs, batch.sample) if f])
